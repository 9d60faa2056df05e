"""How every AgentRun driver call is made: under the environment's :class:`RetryPolicy`, with SDK
exceptions translated by :mod:`.openapi_errors`, so that a call survives AgentRun's lifecycle:

- a write refused because the runtime or endpoint is still changing (HTTP 400) is waited out and
  sent again, for up to ``busy_timeout`` seconds: a rollback issued during a deploy gets through;
- a create or publish retried after its answer was lost first looks for what the lost call made,
  and an "already exists" (400, 409 or 500) on a retry is that resource, not an error;
- a list call reads every page.

:class:`OpenApiCalls` is the base of :class:`~.openapi.OpenApiDriver`, which adds the operations.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ..core.errors import WaitTimeoutError
from ..core.retry import RetryPolicy
from .openapi_errors import AlreadyExists, NotReady, translate

__all__ = ["PAGE", "POLL_FIRST", "POLL_MAX", "OpenApiCalls"]

PAGE = 100  # items asked for per page of a list call
POLL_FIRST, POLL_MAX = 0.1, 2.0  # seconds between reads while waiting for a change to finish

logger = logging.getLogger(__name__)


class OpenApiCalls:
    """Calls under a retry policy that wait out a busy resource and never create twice."""

    def __init__(self, policy: RetryPolicy, *, busy_timeout: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.policy = policy
        self.busy_timeout = busy_timeout  # how long a write waits out a runtime/endpoint that is changing
        self._clock, self._sleep = clock, sleep

    def _call(self, what: str, fn: Callable[[], Any]) -> dict:
        """``fn()`` under the retry policy; a write refused as not READY is sent again once the
        change in its way had time to finish, until ``busy_timeout``."""
        def attempt() -> dict:
            try:
                response = fn()
            except Exception as exc:  # SDK failures are classified, anything else re-raised
                error = translate(exc, what)
                if error is None:
                    raise
                raise error from None
            return response.body.to_map() if response is not None and response.body is not None else {}

        deadline, delay = self._clock() + self.busy_timeout, POLL_FIRST
        while True:
            try:
                return self.policy.call(attempt)
            except NotReady as exc:
                if self._clock() + delay > deadline:
                    raise WaitTimeoutError(f"{exc} It was still refused after {self.busy_timeout:.0f}s of waiting "
                                           "for the change in its way to finish.") from None
                logger.info("%s: waiting for the current change to finish", what)
                self._sleep(delay)
                delay = min(delay * 1.5, POLL_MAX)

    def _create(self, what: str, fn: Callable[[], Any], parse: Callable[[Mapping[str, Any]], Any],
                find: Callable[[], Any]) -> Any:
        """A non-idempotent POST under the policy. Before each *retry*, and when a retry is told
        "already exists", ``find()`` looks for what an earlier attempt made (its answer lost, e.g.
        to a read timeout): that is the result, and nothing is created twice."""
        attempts = 0
        found: list = []

        def counted() -> Any:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                earlier = find()
                if earlier is not None:
                    found.append(earlier)
                    return None
            return fn()

        try:
            body = self._call(what, counted)
        except AlreadyExists:
            earlier = find() if attempts > 1 else None
            if earlier is None:
                raise
            found.append(earlier)
        if found:
            logger.info("%s: an earlier attempt already did it", what)
            return found[0]
        return parse(body.get("data") or {})

    def _all_pages(self, what: str, call: Callable[[int], Any]) -> list[dict]:
        """The items of every page of a list call; ``call(page_number)`` asks for one page of ``PAGE``."""
        items: list[dict] = []
        number = 1
        while True:
            data = self._call(f"{what} (page {number})" if number > 1 else what,
                              partial(call, number)).get("data") or {}
            page = data.get("items") or []
            items.extend(page)
            total = data.get("total")
            if len(page) < int(data.get("pageSize") or PAGE) or (total is not None and len(items) >= int(total)):
                return items
            number += 1
