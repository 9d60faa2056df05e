"""What every task shares: turning library errors into exit codes, and the help texts of the
common flags. Opening a session is ``agentrun_tasks.session``'s job. No business logic here."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from invoke import Collection
from invoke.exceptions import Exit

from ..core.errors import AgentrunTasksError, ConfigError
from ..core.settings import CONFIG_DEFAULTS

__all__ = [  # what every task module shares: no tasks of its own
    "ENV_HELP", "JSON_HELP", "PIPE_CLOSED", "YES_HELP", "Failure", "cli_errors", "collection", "version_flag",
    "whole_number",
]

PIPE_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader closed the pipe


def cli_errors(fn):
    """Convert library errors into ``Exit(message, code)``: one paragraph, no traceback.

    Place it *under* ``@task`` so invoke still sees the task's signature. An unexpected
    exception is a bug (exit 1): its traceback is printed, redacted. A task called with
    ``json=True`` also prints, every time it fails, one JSON document on stdout:
    ``{"error", "exit_code", "hint", ...details}``.
    """
    wants_json = _json_flag(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AgentrunTasksError as exc:
            failure = Failure(str(exc), exc.exit_code, exc.hint, exc.details)
        except KeyboardInterrupt as exc:  # Ctrl-C, or a signal the task turned into one
            failure = Failure("interrupted", getattr(exc, "exit_code", 130), None, {})
        except BrokenPipeError:  # output closed outside the reporter (a print): end quietly, as `yes | head` does
            from ..core.report import silence

            silence(sys.stdout)
            silence(sys.stderr)
            raise Exit(code=PIPE_CLOSED) from None
        except Exit as exc:
            if not exc.code or not wants_json(args, kwargs):
                raise
            failure = Failure(exc.message or f"exit {exc.code}", exc.code, None, {})
        except Exception:  # a bug: show where, but never a secret
            from ..core.secrets import redact

            sys.stderr.write(redact(traceback.format_exc()))
            failure = Failure("unexpected failure (a bug in agentrun-tasks); details above", 1,
                              AgentrunTasksError.hint, {})
        raise failure.exit(as_json=wants_json(args, kwargs)) from None

    return wrapper


@dataclass(frozen=True)
class Failure:
    """How a task failed, as the paragraph on stderr and, under ``--json``, the document on stdout."""

    error: str
    exit_code: int
    hint: str | None
    details: dict

    def exit(self, *, as_json: bool) -> Exit:
        from ..core.secrets import redact

        message = self.error if self.error.startswith(("error:", "interrupted")) else f"error: {self.error}"
        if as_json:
            document = {**self.details, "error": self.error, "exit_code": self.exit_code, "hint": self.hint}
            sys.stdout.write(redact(json.dumps(document, indent=2, sort_keys=True, default=str)) + "\n")
            sys.stdout.flush()
        return Exit(redact(message), code=self.exit_code)


def _json_flag(fn) -> Callable[[tuple, dict], bool]:
    """Whether a call of ``fn`` asked for ``--json`` (its ``json`` argument, however passed)."""
    signature = inspect.signature(fn)
    if "json" not in signature.parameters:
        return lambda args, kwargs: False

    def wants(args: tuple, kwargs: dict) -> bool:
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError:
            return False
        bound.apply_defaults()
        return bool(bound.arguments.get("json"))

    return wants


def whole_number(text, flag: str, *, default: int, maximum: int = 10_000) -> int:
    """A flag's positive whole number (invoke hands it over as text): bad input is exit 2."""
    if text is None:
        return default
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise ConfigError(f"{flag} {text!r} is not a whole number from 1 to {maximum}; nothing was done.")
    return value


def version_flag(text, flag: str, *, latest: bool = True) -> str | None:
    """A flag naming a version: its number (or LATEST where allowed), checked before anything
    starts; None when not given."""
    if text is None:
        return None
    value = str(text).strip()
    if not (value.isdigit() and len(value) <= 9 and int(value) > 0) and not (latest and value == "LATEST"):
        also = " or LATEST" if latest else ""
        raise ConfigError(f"{flag} {text!r} is not a version: give its number (e.g. 3){also}; nothing was done.")
    return value


ENV_HELP = "environment name (envs/<name>.yaml); default: 'local' on a laptop, the branch's environment in CI"
JSON_HELP = "print one JSON document instead of text"
YES_HELP = "do not ask for confirmation"


def collection(name: str, *tasks, default=None, config: dict | None = None) -> Collection:
    """A named namespace of the library, configured with its own defaults and the library's
    (``agentrun.*``), so it works composed alone under any name, as invocations' modules do."""
    ns = Collection(name)
    for each in tasks:
        ns.add_task(each, default=each is default)
    ns.configure(copy.deepcopy(CONFIG_DEFAULTS))
    if config:
        ns.configure(config)
    return ns
