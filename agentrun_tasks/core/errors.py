"""Exception hierarchy whose exit codes are the contract with CI (the table in README.md, "Exit codes")."""

from __future__ import annotations

from typing import Protocol


class Report(Protocol):
    """What a failed gate saw, as its ``--json`` document carries it."""

    def to_dict(self) -> dict: ...


class AgentrunTasksError(Exception):
    """Base class. An unclassified failure is a bug: exit 1.

    ``hint`` is the one next step (a class default, or given per error); ``details`` is what a
    ``--json`` error document carries besides the error, its exit code and the hint.
    """

    exit_code = 1
    hint = "This is a bug in agentrun-tasks: rerun with INVOKE_DEBUG=1 and report the output."

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        if hint is not None:
            self.hint = hint

    @property
    def details(self) -> dict:
        return {}


class ConfigError(AgentrunTasksError):
    """Bad input or configuration; nothing was changed."""

    exit_code = 2
    hint = "Fix the input or setting named in the error and rerun; nothing was changed."


class CredentialError(AgentrunTasksError):
    """Missing or rejected credentials, or permission denied."""

    exit_code = 3
    hint = "See which AccessKey is used with `invoke credentials.show` and test it with `invoke credentials.check`."


class GateFailed(AgentrunTasksError):
    """A health check or analysis gate failed (traffic was rolled back where there was a split).

    ``report`` carries what the release saw (steps, analysis tables) for history and ``--json``.
    """

    exit_code = 4
    hint = ("Look at the failing metric in the analysis; the version is marked failed "
            "(`invoke release --force` retries it).")

    def __init__(self, message: str, *, report: Report | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report

    @property
    def details(self) -> dict:
        return self.report.to_dict() if self.report is not None else {}


class ResourceFailedError(AgentrunTasksError):
    """The platform reported a failed state, or an external call failed for good."""

    exit_code = 5
    hint = "Fix the cause the platform reported and rerun; `invoke info` shows the runtime's state."


class WaitTimeoutError(AgentrunTasksError):
    """Waiting for READY, a URL or a gate timed out."""

    exit_code = 6
    hint = "Rerun: the task continues from the live state; `invoke info` shows where it stands."


class BusyError(AgentrunTasksError):
    """Another deploy, release or rotation holds the environment."""

    exit_code = 7
    hint = "Wait for the other run to finish, or take over a dead holder's lock with --force."


class TransientError(AgentrunTasksError):
    """Throttling, 5xx, connection reset, timeouts: the only class the retry policy retries.

    Raised out of a retry loop only once the policy gave up, so it keeps exit 5.
    """

    exit_code = 5
    hint = "The platform kept failing for the whole retry budget (retry: in the env file); rerun later."
    # A driver sets these for a throttled call: core.retry then spends the whole time budget on
    # it and waits at least ``retry_after`` seconds between attempts.
    throttled: bool = False
    retry_after: float = 0.0


class NotFoundError(ConfigError):
    """A runtime, version or endpoint named by the user does not exist (bad input: exit 2)."""


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM (a CI cancel) arrived: exit 128 + the signal's number.

    A ``KeyboardInterrupt``, not an ``Exception``, so no ``except Exception`` on the way swallows
    it (and asyncio re-raises it out of a running loop, as it does Ctrl-C).
    """

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.signum, self.name = signum, name
        self.exit_code = 128 + signum
