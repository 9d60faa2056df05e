"""One HTTP POST to a chat robot or webhook, retried only when the failure is transient, within a
deadline, and paced by the robot's rate limit.

aiohttp (already the library's HTTP client for probe traffic) lets one event loop deliver to
every channel at once, each bounded by the same deadline, with no thread per channel.

A transient failure is a connection error or timeout, HTTP 429 or 5xx, or a platform's own
"busy / too fast" code in a 200 answer; it is retried with jittered exponential backoff, waiting
at least what ``Retry-After`` asks. A retry that could not finish before the deadline is not
started: the failure is reported instead, so delivery never holds a task up past its bound.
Error details never include the URL (it holds the robot's token) nor a library's message about it.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

ATTEMPTS = 4
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 4.0
ATTEMPT_TIMEOUT = 5.0  # one request; the deadline may cut it shorter


@dataclass(frozen=True)
class Reply:
    """How a platform judged one attempt."""

    ok: bool
    transient: bool = False
    detail: str = ""
    retry_after: float | None = None


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    ok: bool
    attempts: int
    seconds: float
    detail: str = ""

    def to_dict(self) -> dict:
        return {"channel": self.channel, "ok": self.ok, "attempts": self.attempts,
                "seconds": round(self.seconds, 3), "detail": self.detail}


class RateLimiter:
    """At most ``limit`` messages per ``per`` seconds (a sliding window), within this process."""

    def __init__(self, limit: int, per: float) -> None:
        self.limit, self.per = limit, per
        self.sent: deque[float] = deque()

    async def acquire(self, deadline: float) -> bool:
        """Wait for a slot; ``False`` if none frees up before ``deadline`` (monotonic seconds)."""
        while True:
            now = time.monotonic()
            while self.sent and self.sent[0] <= now - self.per:
                self.sent.popleft()
            if len(self.sent) < self.limit:
                self.sent.append(now)
                return True
            free_at = self.sent[0] + self.per
            if free_at > deadline:
                return False
            await asyncio.sleep(free_at - now)


_LIMITERS: dict[tuple[str, int, float], RateLimiter] = {}


def limiter_for(webhook: str, limit: int, per: float) -> RateLimiter:
    """The one limiter of a robot (keyed by a hash of its URL, which is a secret) in this process."""
    key = (hashlib.sha256(webhook.encode()).hexdigest(), limit, per)
    return _LIMITERS.setdefault(key, RateLimiter(limit, per))


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def http_reply(status: int, headers: Mapping[str, str], body: bytes) -> Reply | None:
    """The verdict every platform shares: ``None`` for a 2xx answer (the platform reads its body)."""
    if 200 <= status < 300:
        return None
    text = body[:200].decode("utf-8", "replace").strip()
    transient = status == 429 or status >= 500
    return Reply(False, transient, f"HTTP {status}" + (f" {text}" if text else ""),
                 retry_after(headers.get("Retry-After")) if transient else None)


def json_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def post(session: aiohttp.ClientSession, name: str, make_request: Callable[[], tuple[str, bytes, dict[str, str]]],
               judge: Callable[[int, Mapping[str, str], bytes], Reply], *, deadline: float,
               limiter: RateLimiter | None = None) -> DeliveryResult:
    """POST until ``judge`` says ok, a failure is permanent, or the deadline leaves no time.

    ``make_request()`` returns ``(url, body bytes, headers)`` and is called per attempt, so a
    signature's timestamp is always fresh; ``judge(status, headers, body)`` returns a :class:`Reply`.
    """
    import aiohttp

    started = time.monotonic()
    reply = Reply(False, detail="not sent")
    attempt = 0
    while attempt < ATTEMPTS:
        if limiter is not None and not await limiter.acquire(deadline):
            reply = Reply(False, detail=f"rate limit: no slot of {limiter.limit} per {limiter.per:g}s "
                                        "before the deadline")
            break
        attempt += 1
        left = deadline - time.monotonic()
        url, body, headers = make_request()
        try:
            async with session.post(url, data=body, headers={"Content-Type": "application/json", **headers},
                                    timeout=aiohttp.ClientTimeout(total=max(0.1, min(ATTEMPT_TIMEOUT, left))),
                                    allow_redirects=False) as response:
                reply = judge(response.status, response.headers, await response.read())
        except asyncio.TimeoutError:
            reply = Reply(False, True, "timed out")
        except (aiohttp.ClientError, OSError) as exc:
            # The class only: aiohttp's messages may carry the URL, and so the robot's token.
            reply = Reply(False, True, f"connection failed ({type(exc).__name__})")
        if reply.ok or not reply.transient or attempt >= ATTEMPTS:
            break
        backoff = random.uniform(0, min(MAX_BACKOFF, INITIAL_BACKOFF * 2 ** (attempt - 1)))
        wait = max(backoff, reply.retry_after or 0.0)
        if time.monotonic() + wait >= deadline:
            reply = Reply(False, True, f"{reply.detail}; no time left to retry "
                                       f"(waiting {wait:.1f}s would pass the deadline)")
            break
        await asyncio.sleep(wait)
    return DeliveryResult(name, reply.ok, attempt, time.monotonic() - started, reply.detail)
