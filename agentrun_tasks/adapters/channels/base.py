"""The one protocol every notification channel keeps, and the JSON-over-HTTP robot most of
them are: a platform module says how to sign a request and how to read the answer."""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ...core.secrets import Secret
from .delivery import DeliveryResult, RateLimiter, Reply, http_reply, limiter_for, post

if TYPE_CHECKING:
    import aiohttp


class Channel(Protocol):
    name: str

    async def send(self, message: dict, *, session: aiohttp.ClientSession, deadline: float) -> DeliveryResult:
        """Deliver one rendered message (``session``: an aiohttp ClientSession; ``deadline``:
        monotonic seconds after which no attempt starts)."""


class RobotChannel:
    """POST the message as JSON to the webhook. Subclasses override :meth:`request` to sign and
    :meth:`judge_body` to read a 2xx answer's body; ``rate`` is the robot's limit, if it has one."""

    rate: tuple[int, float] | None = None  # (messages, seconds)

    def __init__(self, name: str, webhook: Secret, secret: Secret | None = None) -> None:
        self.name, self.webhook, self.secret = name, webhook, secret

    def request(self, message: dict) -> tuple[str, bytes, dict[str, str]]:
        return self.webhook.reveal(), encode(message), {}

    def judge_body(self, body: bytes) -> Reply:
        return Reply(True)

    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Reply:
        return http_reply(status, headers, body) or self.judge_body(body)

    def limiter(self) -> RateLimiter | None:
        return limiter_for(self.webhook.reveal(), *self.rate) if self.rate else None

    async def send(self, message: dict, *, session: aiohttp.ClientSession, deadline: float) -> DeliveryResult:
        return await post(session, self.name, lambda: self.request(message), self.judge, deadline=deadline,
                          limiter=self.limiter())


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def coded_reply(data: dict, field: str, *, ok: Container[object] = (0,), transient: Container[object] = (),
                notes: Mapping[object, str] | None = None) -> Reply:
    """A platform's body verdict, from its error code ``field`` (``errcode``, ``code``, ...)."""
    code = data.get(field)
    if code in ok:
        return Reply(True)
    message = str(data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or "")[:200]
    note = (notes or {}).get(code, "")
    return Reply(False, code in transient, f"{field} {code}: {message}{' ' + note if note else ''}".strip())
