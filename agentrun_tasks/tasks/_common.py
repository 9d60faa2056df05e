"""What every task shares: turning library errors into exit codes, and opening a session
(project root, CI context, environment, protection, reporter). No business logic here."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from invoke.exceptions import Exit

from ..core import secrets
from ..core.errors import AgentrunTasksError, ConfigError
from ..core.report import Reporter, dialect_for

if TYPE_CHECKING:
    from ..core.cienv import CIContext
    from ..core.model import EnvConfig


def cli_errors(fn):
    """Convert library errors into ``Exit(message, code)``: one paragraph, no traceback.

    Place it *under* ``@task`` so invoke still sees the task's signature. An unexpected
    exception is a bug (exit 1): its traceback is printed, redacted.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AgentrunTasksError as exc:
            raise Exit(secrets.redact(f"error: {exc}"), code=exc.exit_code) from None
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None
        except Exit:
            raise
        except Exception:  # a bug: show where, but never a secret
            sys.stderr.write(secrets.redact(traceback.format_exc()))
            raise Exit("error: unexpected failure (a bug in agentrun-tasks); details above", code=1) from None

    return wrapper


def project_root(c=None) -> Path:
    """``agentrun.root`` from invoke config, else the nearest directory above cwd holding ``envs/``."""
    configured = None
    if c is not None:
        configured = (c.config.get("agentrun") or {}).get("root")
    if configured:
        return Path(configured).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "envs").is_dir():
            return candidate
    return here


@dataclass
class Session:
    """Everything a task needs after its flags are parsed."""

    root: Path
    env: EnvConfig
    ci: CIContext
    reporter: Reporter
    environ: dict


@dataclass
class Context:
    """What every task sees before an environment is chosen: the process, the project, the CI."""

    environ: dict
    root: Path
    ci: CIContext
    reporter: Reporter
    branch_map: object  # invoke config agentrun.branch_map (a mapping, or a DataProxy of one)


def open_context(c, *, json: bool = False) -> Context:
    """Detect the CI platform and build the reporter that speaks its dialect."""
    from ..core import cienv

    environ = dict(os.environ)
    root = project_root(c)
    ci = cienv.detect(environ, cwd=root)
    reporter = Reporter(json_mode=json, dialect=dialect_for(ci.platform, environ))
    reporter.capture_warnings()
    branch_map = (c.config.get("agentrun") or {}).get("branch_map") if c is not None else None
    return Context(environ, root, ci, reporter, branch_map)


def open_session(c, env: str | None, *, json: bool = False, mutating: bool = False, yes: bool = False,
                 destructive: Callable[[EnvConfig], str] | None = None) -> Session:
    """Detect CI, choose and load the environment, enforce protection for mutating tasks.

    ``destructive(env)`` is a question that must be confirmed (``--yes`` in CI) whatever the env's
    ``protect.confirm`` says: deleting a runtime always asks.
    """
    from ..core import cienv, config, protect

    ctx = open_context(c, json=json)
    environ, root, ci, reporter = ctx.environ, ctx.root, ctx.ci, ctx.reporter
    name, _reason = cienv.choose_env(ci, explicit=env, branch_map=ctx.branch_map)
    cfg = config.load_env(name, root=root, environ=environ, context=ci.template_context())
    if mutating:
        protect.check(cfg, ci)
        if destructive and not yes:
            _confirm(reporter, destructive(cfg))
        elif protect.needs_confirmation(cfg, ci, yes=yes):
            _confirm(reporter, f"Change environment '{cfg.name}' (agent {cfg.agent_name}, region {cfg.region})?")
    return Session(root=root, env=cfg, ci=ci, reporter=reporter, environ=environ)


def open_control(c, env: str | None, **session_options):
    """``open_session`` and the environment's control plane (starting the emulator if it is the target)."""
    from ..connect import control_plane

    session = open_session(c, env, **session_options)
    return session, control_plane(session)


def open_runtime(c, env: str | None, **session_options):
    """``open_control`` and the environment's runtime, which must exist."""
    session, driver = open_control(c, env, **session_options)
    return session, driver, driver.require_runtime(session.env.agent_name)


def _confirm(reporter: Reporter, question: str) -> None:
    if not sys.stdin.isatty():
        raise ConfigError(f"{question} Refusing to ask without a terminal: pass --yes to confirm.")
    reporter.line(f"{question} [y/N] ")
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise ConfigError("not confirmed; nothing was changed.")


ENV_HELP = "environment name (envs/<name>.yaml); default: 'local' on a laptop, the branch's environment in CI"
JSON_HELP = "print one JSON document instead of text"
YES_HELP = "do not ask for confirmation"
