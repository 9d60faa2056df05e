"""Before an environment is chosen: the library's invoke config, the project root, the CI
platform and the reporter that speaks its dialect."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.report import Reporter, dialect_for
from ..core.settings import CONFIG_DEFAULTS

if TYPE_CHECKING:
    from invoke import Context as InvokeContext

    from ..core.cienv import CIContext


def settings(c: InvokeContext | None) -> dict:
    """``agentrun.*`` from invoke config over its defaults, however the collections were composed."""
    configured = c.config.get("agentrun") if c is not None else None
    return {**CONFIG_DEFAULTS["agentrun"], **dict(configured or {})}


def project_root(c: InvokeContext | None = None) -> Path:
    """The project: ``agentrun.root`` from invoke config (relative to the loaded ``tasks.py``),
    else the nearest directory holding ``envs/`` at or above the folder of the ``tasks.py``
    invoke loaded (so ``invoke -r DIR`` from anywhere uses DIR), or above the current directory
    when no collection was loaded (a task called from Python)."""
    config = c.config if c is not None else None
    # invoke records where it loaded tasks.py only as the private ``_project_prefix`` (set by its
    # public ``Config.set_project_location``, with no public getter): the one private attribute
    # read here, held by tests/tasks/test_cli_contract.py (``invoke -r DIR`` from another folder).
    loaded = getattr(config, "_project_prefix", None) if config is not None else None
    start = Path(loaded).resolve() if loaded else Path.cwd().resolve()
    configured = (config.get("agentrun") or {}).get("root") if config is not None else None
    if configured:
        return (start / Path(configured).expanduser()).resolve()
    for candidate in (start, *start.parents):
        if (candidate / "envs").is_dir():
            return candidate
    return start


@dataclass
class Context:
    """What every task sees before an environment is chosen: the process, the project, the CI."""

    environ: dict
    root: Path
    ci: CIContext
    reporter: Reporter
    branch_map: object  # invoke config agentrun.branch_map (a mapping, or a DataProxy of one)


def open_context(c: InvokeContext | None, *, json: bool = False) -> Context:
    """Detect the CI platform and build the reporter that speaks its dialect."""
    from ..core import cienv

    environ = dict(os.environ)
    root = project_root(c)
    ci = cienv.detect(environ, cwd=root)
    reporter = Reporter(json_mode=json, dialect=dialect_for(ci.platform, environ))
    reporter.capture_warnings()
    return Context(environ, root, ci, reporter, settings(c)["branch_map"])
