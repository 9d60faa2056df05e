"""The exit-code contract for usage errors: 2 in one paragraph, where invoke's parser exits 1.

invoke's ``Program.run`` exits 1 when its parser refuses the command line (an unknown flag or
task, a flag without its value, a value it cannot cast), and 1 is the contract's code for a bug.
Two ways out, one wording:

- ``exit_2_on_usage_errors()``, called at the bottom of a project's ``tasks.py``: plain
  ``invoke`` (``inv``, ``python -m invoke``) then exits 2 for errors in the task part of the
  command line, the part it parses after loading ``tasks.py``. The core flags before the tasks
  (``-c``, ``-T``, ``-D``...) are parsed before any project code runs: those still exit 1.
- ``agentrun-tasks``, this console script: invoke's own ``Program`` (the same ``tasks.py``, the
  same flags) exiting 2 for the core flags too, and offering ``init`` where there is no
  ``tasks.py`` yet.

The tasks validate their own values, so a bad value exits 2 under either.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from invoke import Program
from invoke.exceptions import Exit, ParseError

from . import __version__

__all__ = ["ContractProgram", "exit_2_on_usage_errors", "program"]

USAGE = 2
_NEEDS_VALUE = re.compile(r"Flag <Argument: (\w+)[^>]*> needed value and was not given one!")


_UNKNOWN = re.compile(r"No idea what '([^']+)' is!")


@contextmanager
def _usage_errors(binary: str, argv: list[str] | None, *, casts: bool = True,
                  program: Program | None = None) -> Iterator[None]:
    """ParseError (and, where the parser ``casts`` flag values, ValueError) -> exit 2."""
    try:
        yield
    except ParseError as exc:
        said = _NEEDS_VALUE.sub(lambda m: f"--{m.group(1).replace('_', '-')} needs a value.", str(exc))
        failure = f"{said}{_did_you_mean(exc, program)} See `{binary} --help <task>` for the flags a task takes."
    except ValueError as exc:  # a flag value the parser could not cast to the flag's type
        if not casts:
            raise
        failure = f"a flag value has the wrong type ({exc}). See `{binary} --help <task>`."
    else:
        return
    from .tasks._common import Failure  # the one shape of an error, and its --json document

    raise Failure(failure, USAGE, "Fix the command line; nothing was run.", {}).exit(
        as_json="--json" in list(argv or sys.argv)) from None


def _did_you_mean(exc: ParseError, program: Program | None) -> str:
    """`` Did you mean 'deploy'?`` for a mistyped task or flag: the close names invoke knows."""
    unknown = _UNKNOWN.search(str(exc))
    if unknown is None:
        return ""
    word = unknown.group(1)
    if word.startswith("-"):  # a flag of the task being parsed (its parser context)
        names = list(getattr(exc.context, "flags", {}) or {})
    else:
        collection = getattr(program, "collection", None)
        names = list(collection.task_names) + [a for t in collection.task_names.values() for a in t] \
            if collection is not None else []
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class ContractProgram(Program):
    """invoke's Program, exiting 2 (not 1) on command-line usage errors; where there is no
    tasks.py yet, its only task is ``init``, which writes one."""

    def load_collection(self) -> None:
        try:
            super().load_collection()
        except Exit:
            from .tasks.init import ns

            self.collection = ns

    def parse_core(self, argv: list[str] | None) -> None:
        with _usage_errors(self.binary or "invoke", argv, program=self):
            super().parse_core(argv)

    def parse_tasks(self) -> None:
        with _usage_errors(self.binary or "invoke", self.argv, program=self):
            super().parse_tasks()

    def parse_cleanup(self) -> None:  # `--help nosuch` is a ParseError raised here
        with _usage_errors(self.binary or "invoke", self.argv, casts=False, program=self):
            super().parse_cleanup()


def exit_2_on_usage_errors() -> None:
    """Make plain ``invoke`` exit 2, in one paragraph, when its parser refuses the tasks' part of
    the command line (unknown flag or task, flag without its value). Call it at the bottom of
    ``tasks.py``. It does nothing unless invoke's own program (``invoke``, ``inv``,
    ``python -m invoke``) is loading that ``tasks.py`` right now: not under pytest, not for a plain
    import, not under ``agentrun-tasks`` (which exits 2 already).

    invoke has no hook for parse errors, and pre-parsing here would be wrong: invoke reads the
    project's ``invoke.yaml`` (``tasks.auto_dash_names`` renames tasks) only after importing
    ``tasks.py``. So this wraps that program's own parse steps, for this run, in the wording of
    ``agentrun-tasks``: invoke's parser, config and argv decide as before; only the exit differs.
    """
    program = _invoke_loading_tasks()
    if program is None:
        return
    called = program.called_as  # "__main__.py" under python -m invoke
    binary = called if called in program.binary_names else program.binary_names[0]
    for step, casts in (("parse_tasks", True), ("parse_cleanup", False)):
        setattr(program, step, _guarded(program, step, binary, casts))


def _invoke_loading_tasks() -> Program | None:
    """invoke's own program if it is loading a tasks collection from disk right now, else None.

    Told from the program's public state, not from stack frames: ``Program.load_collection``
    imports ``tasks.py`` after ``parse_core`` set ``argv`` and before it assigns ``collection``, and
    only when the program was given no ``namespace``. This is the one place agentrun-tasks leans on
    how invoke orders its steps; ``tests/tasks/test_invoke_usage_errors.py`` runs plain ``invoke``
    with refused command lines and fails (exit 1, not 2) if a release of invoke changes the order.
    """
    main = sys.modules.get("invoke.main")  # what `invoke`, `inv` and `python -m invoke` run
    program = getattr(main, "program", None)
    if (isinstance(program, Program) and program.namespace is None and program.argv
            and "collection" not in vars(program)):
        return program
    return None


def _guarded(program: Program, step: str, binary: str, casts: bool) -> Callable[[], None]:
    parse = getattr(type(program), step)

    def guarded() -> None:
        vars(program).pop(step, None)  # this run only: the same object may run again in-process
        with _usage_errors(binary, program.argv, casts=casts, program=program):
            parse(program)

    return guarded


program = ContractProgram(name="agentrun-tasks", binary="agentrun-tasks", binary_names=["agentrun-tasks"],
                          version=__version__)
