"""The single retry policy: only :class:`TransientError` is retried, with jittered backoff
and a total time bound; everything else fails at once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .errors import TransientError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts *and* total seconds."""

    attempts: int = 6
    initial: float = 0.5
    maximum: float = 8.0
    total: float = 60.0

    def retrying(self):
        """A ``tenacity.Retrying`` that retries only transient failures and re-raises the last."""
        import tenacity

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=tenacity.wait_random_exponential(multiplier=self.initial, max=self.maximum),
            stop=tenacity.stop_after_attempt(self.attempts) | tenacity.stop_after_delay(self.total),
            before_sleep=self._log_retry,
            reraise=True,
        )

    def _log_retry(self, state) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning("retrying in %.1fs (attempt %d of %d): %s", state.next_action.sleep if state.next_action
                       else 0.0, state.attempt_number + 1, self.attempts, error)

    def call(self, fn, *args, **kwargs):
        """Run ``fn`` under this policy."""
        return self.retrying()(fn, *args, **kwargs)


NO_RETRY = RetryPolicy(attempts=1, total=0.0)
