"""What the ``ci`` tasks run: the project's own test command (``invoke ci.test``), the lock files
the generated pipelines install from, and the check that those inputs exist.

The test command is the project's (invoke config ``ci.test_command``), a shell line by design: it
is the one step every generated pipeline runs, and this repository's is ``bash .ci/run``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from ..adapters import command
from ..core.errors import ResourceFailedError
from ..core.pipelines.model import LOCK_COMMANDS, RUNTIME_LOCK, TEST_LOCK, GeneratedFile, install_inputs

DEFAULT_TEST_COMMAND = "python -m pytest -q"

# The generated pipelines' deploy jobs install the runtime lock, their test job the test lock,
# made by the commands the pipelines' headers name.
LOCKS = {lock: tuple(line.split()) for lock, line in zip((RUNTIME_LOCK, TEST_LOCK), LOCK_COMMANDS)}


def run_tests(line: str, *, shell: str, env: Mapping[str, str] | None, out: TextIO | None,
              err: TextIO | None) -> int:
    """Run ``line`` with ``shell -c``; its output goes to ``out`` and ``err`` as it comes
    (``None``: hidden). Returns its exit code."""
    return command.stream([shell, "-c", line], env=env, out=out, err=err)


def missing_inputs(root: Path, files: Iterable[GeneratedFile]) -> list[str]:
    """The files the pipelines' install steps read that ``root`` lacks: each would fail its job
    at its first step (``File not found``)."""
    wanted = dict.fromkeys(name for f in files for name in install_inputs(f.text))
    return [name for name in wanted if not (root / name).is_file()]


def lock_commands() -> list[str]:
    return [" ".join(argv) for argv in LOCKS.values()]


def compile_locks(root: Path, env: Mapping[str, str] | None = None) -> list[str] | None:
    """Write the lock files from ``root/pyproject.toml`` with uv; None (nothing written) where
    uv is not installed. uv reads its index settings (UV_INDEX, UV_FIND_LINKS...) from ``env``."""
    if shutil.which("uv") is None:
        return None
    for argv in LOCKS.values():
        done = command.run(argv, env=env, cwd=root, timeout=600)
        if done.returncode != 0:
            raise ResourceFailedError(f"`{' '.join(argv)}` failed (exit {done.returncode}): "
                                      f"{done.stderr.strip()[-800:]}")
    return list(LOCKS)
