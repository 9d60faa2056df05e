"""``invoke ci.test``: the project's own test command, run by its shell as if typed there.

The command is the project's (invoke config ``ci.test_command``), a shell line by design: it is
the one step every generated pipeline runs, and this repository's is ``bash .ci/run``.
"""

from __future__ import annotations

from typing import Mapping, TextIO

from ..adapters import command

DEFAULT_TEST_COMMAND = "python -m pytest -q"


def run_tests(line: str, *, shell: str, env: Mapping[str, str] | None, out: TextIO | None,
              err: TextIO | None) -> int:
    """Run ``line`` with ``shell -c``; its output goes to ``out`` and ``err`` as it comes
    (``None``: hidden). Returns its exit code."""
    return command.stream([shell, "-c", line], env=env, out=out, err=err)
