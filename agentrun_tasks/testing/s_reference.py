"""The real Serverless Devs CLI as a test reference: installed once per machine, run offline.

``ensure()`` npm-installs the pinned ``@serverless-devs/s`` into a cache folder
(``$AGENTRUN_TASKS_S_CACHE``, else ``~/.cache/agentrun-tasks/s/<version>``) unless it is there;
``.ci/run`` calls it (``python3 -m agentrun_tasks.testing.s_reference``) so the tests find it.
The ``s_reference`` fixture gives a :class:`Reference` whose ``preview`` runs
``s preview -o json --silent`` with an isolated home and ``NODE_ENV=test`` (which stops the
update check and the error-report daemon, the only network ``s preview`` would try), passing
credentials only as the environment variables ``s`` reads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from ..adapters import command
from ..adapters.s_cli import S_VERSION, install

__all__ = ["Reference", "ensure", "s_reference"]

CACHE_ENV = "AGENTRUN_TASKS_S_CACHE"


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    configured = environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "agentrun-tasks" / "s" / S_VERSION


def ensure(environ: Mapping[str, str] = os.environ) -> Path:
    """The cached ``s`` binary, installed first if missing (several processes may ask at once)."""
    cache = cache_dir(environ)
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / ".install.lock")):
        binary = cache / ".agentrun" / "tools" / "s" / "node_modules" / ".bin" / "s"
        return binary if binary.exists() else install(cache, environ)


@dataclass(frozen=True)
class Reference:
    binary: Path
    home: Path

    def preview(self, template: Path, environ: Mapping[str, str] | None = None) -> command.Completed:
        """``s preview -t <template> -o json --silent`` from the template's folder, with only
        ``environ`` (plus PATH) in its environment. ``s`` prints the rendered document on stdout,
        and nothing there for a failure (its message is on stdout without ``-o``)."""
        env = {"PATH": os.environ.get("PATH", ""), "NODE_ENV": "test", "serverless_devs_config_home": str(self.home),
               **(environ or {})}
        return command.run([str(self.binary), "preview", "-t", template.name, "-o", "json", "--silent"],
                           cwd=template.parent, env=env, timeout=120)


@pytest.fixture(scope="session")
def s_reference() -> Iterator[Reference]:
    """The real ``s`` (skipped only where npm or node is missing)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm/node are not installed: the comparison with the real Serverless Devs s needs them")
    home = Path(tempfile.mkdtemp(prefix="s-home-"))
    try:
        yield Reference(ensure(), home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    print(ensure())
