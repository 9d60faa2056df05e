"""``agentrun-tasks``: the ``invoke`` command with the exit-code contract for usage errors too.

Plain ``invoke`` exits 1 when its parser refuses the command line (an unknown flag or task, a
flag without its value, a value it cannot cast), and 1 is the contract's code for a bug. This
console script is invoke's own ``Program`` (it loads the same ``tasks.py``, takes the same
flags) with one difference: those usage errors exit 2 with one paragraph. The tasks validate
their own values, so a bad value exits 2 under plain ``invoke`` as well.
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from typing import Iterator

from invoke import Program
from invoke.exceptions import Exit, ParseError

from . import __version__

USAGE = 2
_NEEDS_VALUE = re.compile(r"Flag <Argument: (\w+)[^>]*> needed value and was not given one!")


@contextmanager
def _usage_errors(binary: str, argv) -> Iterator[None]:
    try:
        yield
    except ParseError as exc:
        said = _NEEDS_VALUE.sub(lambda m: f"--{m.group(1).replace('_', '-')} needs a value.", str(exc))
        failure = f"{said} See `{binary} --help <task>` for the flags a task takes."
    except ValueError as exc:  # a flag value the parser could not cast to the flag's type
        failure = f"a flag value has the wrong type ({exc}). See `{binary} --help <task>`."
    else:
        return
    from .tasks._common import Failure  # the one shape of an error, and its --json document

    raise Failure(failure, USAGE, "Fix the command line; nothing was run.", {}).exit(
        as_json="--json" in list(argv or sys.argv)) from None


class ContractProgram(Program):
    """invoke's Program, exiting 2 (not 1) on command-line usage errors; where there is no
    tasks.py yet, its only task is ``init``, which writes one."""

    def load_collection(self) -> None:
        try:
            super().load_collection()
        except Exit:
            from .tasks.init import ns

            self.collection = ns

    def parse_core(self, argv) -> None:
        with _usage_errors(self.binary or "invoke", argv):
            super().parse_core(argv)

    def parse_tasks(self) -> None:
        with _usage_errors(self.binary or "invoke", self.argv):
            super().parse_tasks()


program = ContractProgram(name="agentrun-tasks", binary="agentrun-tasks", binary_names=["agentrun-tasks"],
                          version=__version__)
