"""Exception hierarchy whose exit codes are the contract with CI (see DESIGN.md)."""

from __future__ import annotations


class AgentrunTasksError(Exception):
    """Base class. An unclassified failure is a bug: exit 1."""

    exit_code = 1


class ConfigError(AgentrunTasksError):
    """Bad input or configuration; nothing was changed."""

    exit_code = 2


class CredentialError(AgentrunTasksError):
    """Missing or rejected credentials, or permission denied."""

    exit_code = 3


class GateFailed(AgentrunTasksError):
    """A health check or analysis gate failed (traffic was rolled back where there was a split).

    ``report`` carries what the release saw (steps, analysis tables) for history and ``--json``.
    """

    exit_code = 4

    def __init__(self, message: str, *, report=None) -> None:
        super().__init__(message)
        self.report = report


class ResourceFailedError(AgentrunTasksError):
    """The platform reported a failed state, or an external call failed for good."""

    exit_code = 5


class WaitTimeoutError(AgentrunTasksError):
    """Waiting for READY, a URL or a gate timed out."""

    exit_code = 6


class BusyError(AgentrunTasksError):
    """Another deploy, release or rotation holds the environment."""

    exit_code = 7


class TransientError(AgentrunTasksError):
    """Throttling, 5xx, connection reset, timeouts: the only class the retry policy retries.

    Raised out of a retry loop only once the policy gave up, so it keeps exit 5.
    """

    exit_code = 5


class NotFoundError(ConfigError):
    """A runtime, version or endpoint named by the user does not exist (bad input: exit 2)."""
