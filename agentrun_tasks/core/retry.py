"""The single retry policy: only :class:`TransientError` is retried, with jittered backoff
and a total time bound; everything else fails at once.

A throttled call (``TransientError.throttled``) gets the whole time budget, ``total`` seconds,
whatever the number of attempts: at 30% throttling six attempts are used up in seconds, while
the platform only asks to come back later. Other transient failures (5xx, resets) stop at
``attempts`` or ``total``, whichever comes first. When the server says when to come back
(``TransientError.retry_after``, from ``x-acs-retry-after``), the wait is at least that long.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from .errors import TransientError

if TYPE_CHECKING:
    import tenacity

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def retry_after(exc: BaseException | None) -> float:
    """Seconds the server asked the caller to wait before retrying ``exc`` (0 when it did not say)."""
    return float(getattr(exc, "retry_after", None) or 0.0)


def throttled(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a throttling answer (retried for the whole time budget)."""
    return bool(getattr(exc, "throttled", False))


def _elapsed(state: tenacity.RetryCallState) -> float:
    """Seconds since the first attempt began: set once an attempt has an outcome, as it has whenever
    tenacity asks ``wait`` or ``stop``."""
    elapsed = state.seconds_since_start
    assert elapsed is not None
    return elapsed


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts (not for throttling) *and* total seconds."""

    attempts: int = 6
    initial: float = 0.5
    maximum: float = 8.0
    total: float = 60.0

    def retrying(self) -> tenacity.Retrying:
        """A ``tenacity.Retrying`` that retries only transient failures and re-raises the last."""
        import tenacity

        backoff = tenacity.wait_random_exponential(multiplier=self.initial, max=self.maximum)

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            left = self.total - _elapsed(state)
            return max(0.0, min(max(backoff(state), retry_after(error)), left))

        def stop(state: tenacity.RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if _elapsed(state) >= self.total:
                return True
            return not throttled(error) and state.attempt_number >= self.attempts

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=wait,
            stop=stop,
            before_sleep=self._log_retry,
            reraise=True,
        )

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        budget = f"{self.total:.0f}s budget" if throttled(error) else f"of {self.attempts}"
        logger.warning("retrying in %.1fs (attempt %d %s): %s", state.next_action.sleep if state.next_action
                       else 0.0, state.attempt_number + 1, budget, error)

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` under this policy."""
        return self.retrying()(fn, *args, **kwargs)


NO_RETRY = RetryPolicy(attempts=1, total=0.0)
