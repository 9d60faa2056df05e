"""Local stand-ins for the chat robots and webhooks notifications go to, on 127.0.0.1.

Each speaks its platform's documented wire protocol as strictly as the real one: the token in
the URL, the payload shape, the signature recomputed from the shared secret (DingTalk over the
query, Feishu in the body, the generic webhook's ``X-Signature``), the keyword, and the answer
(HTTP 200 with an error code in the body, as DingTalk, Feishu and WeCom do; Slack's short
status texts)::

    with robot("dingtalk", secret="SEC...") as r:
        ...  # post to r.url
        assert r.messages[0]["msgtype"] == "markdown"

As the platforms do, DingTalk and WeCom robots accept 20 messages a minute (then errcode 130101 /
45009), and Feishu refuses a request body over 20 KB (code 9499); ``clock`` is the robots' time.

``fail_next(n, how)`` makes the next ``n`` requests fail (``"500"``, ``"429"`` with Retry-After,
or ``"busy"``: the platform's retryable body code); ``always`` makes every request fail with 503;
``delay`` holds every answer back that many seconds.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets as pysecrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from .aio import serving

__all__ = ["PATHS", "Robot", "robot"]

PER_MINUTE = 20  # DingTalk and WeCom robots
FEISHU_BODY = 20 * 1024  # bytes
PATHS = {"slack": "/services/T0001/B0002/{token}", "dingtalk": "/robot/send?access_token={token}",
         "feishu": "/open-apis/bot/v2/hook/{token}", "wecom": "/cgi-bin/webhook/send?key={token}",
         "webhook": "/hooks/{token}"}


@dataclass
class Robot:
    kind: str
    token: str
    secret: str | None = None
    keyword: str | None = None
    url: str = ""
    messages: list = field(default_factory=list)  # accepted payloads
    requests: int = 0
    rejected: list = field(default_factory=list)  # (status, answer) of refused requests
    always: bool = False
    delay: float = 0.0  # seconds before each answer (a robot that hangs)
    clock: Callable[[], float] = time.monotonic  # for the per-minute limit
    _failures: list = field(default_factory=list)
    _accepted_at: list = field(default_factory=list)

    def too_fast(self) -> bool:
        """DingTalk and WeCom: a 21st message within a minute is refused."""
        if self.kind not in ("dingtalk", "wecom"):
            return False
        now = self.clock()
        self._accepted_at = [t for t in self._accepted_at if now - t < 60.0]
        return len(self._accepted_at) >= PER_MINUTE

    def fail_next(self, n: int, how: str = "500") -> None:
        self._failures += [how] * n


def _hmac_b64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def _fresh(stamp: str | None, unit: float) -> bool:
    if stamp is None:
        return False
    try:
        return abs(time.time() - int(stamp) / unit) < 3600  # both platforms allow one hour of skew
    except (TypeError, ValueError):
        return False


def _shape_error(kind: str, body: dict) -> str | None:
    """What the platform would reject in the payload, or None."""
    if kind == "slack":
        blocks = body.get("blocks", [])
        if not isinstance(body.get("text"), str) and not blocks:
            return "no_text"
        if any(b.get("type") not in ("header", "section", "context", "divider") for b in blocks):
            return "invalid_blocks"
        if any(b["type"] == "header" and len(b["text"]["text"]) > 150 for b in blocks):
            return "invalid_blocks"
        if any(len(b.get("fields", [])) > 10 for b in blocks):
            return "invalid_blocks"
    elif kind == "dingtalk":
        md = body.get("markdown") or {}
        if body.get("msgtype") != "markdown" or not all(isinstance(md.get(k), str) for k in ("title", "text")):
            return "invalid markdown message"
        if not isinstance(body.get("at", {}).get("atMobiles", []), list):
            return "invalid at"
    elif kind == "feishu":
        kind_ = body.get("msg_type")
        if kind_ == "interactive":
            card = body.get("card") or {}
            if not isinstance(card.get("elements"), list) or "title" not in card.get("header", {}):
                return "invalid card"
        elif kind_ == "post":
            posts = (body.get("content") or {}).get("post") or {}
            rows = [p.get("content") for p in posts.values()]
            if not rows or not all(isinstance(r, list) and all(isinstance(line, list) for line in r) for r in rows):
                return "invalid post"
        else:
            return "unknown msg_type"
    elif kind == "wecom":
        md = body.get("markdown") or {}
        if body.get("msgtype") != "markdown" or not isinstance(md.get("content"), str):
            return "invalid message type"
        if len(md["content"].encode()) > 4096:
            return "content exceed max length"
    return None


# The answer each platform gives: ok, a bad signature/token, a bad payload, a keyword miss, busy.
def _answer(kind: str, what: str, detail: str = "") -> web.Response:
    if kind in ("slack", "webhook"):
        status, text = {"ok": (200, "ok"), "token": (403, "invalid_token"), "sign": (401, "bad signature"),
                        "shape": (400, detail), "busy": (429, "rate_limited")}[what]
        return web.Response(status=status, text=text, headers={"Retry-After": "0"} if what == "busy" else None)
    field_ = {"dingtalk": "errcode", "feishu": "code", "wecom": "errcode"}[kind]
    message = "errmsg" if kind != "feishu" else "msg"
    codes = {"dingtalk": {"ok": 0, "token": 300001, "sign": 310000, "keyword": 310000, "shape": 40035, "busy": -1,
                          "limit": 130101},
             "feishu": {"ok": 0, "token": 19001, "sign": 19021, "keyword": 19024, "shape": 9499, "busy": 11232},
             "wecom": {"ok": 0, "token": 93000, "shape": 40008, "busy": -1, "limit": 45009}}[kind]
    texts = {"ok": "ok", "token": "token is not exist", "keyword": "keywords not in content",
             "limit": "send too fast, exceed 20 times per minute" if kind == "dingtalk" else
             "api freq out of limit",
             "sign": "sign not match" if kind == "dingtalk" else
             "sign match fail or timestamp is not within one hour from current time", "busy": "system busy"}
    return web.json_response({field_: codes[what], message: detail or texts[what]})


def _app(robot: Robot) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        robot.requests += 1
        held_until = time.monotonic() + robot.delay
        while robot.delay and time.monotonic() < held_until:  # robot() zeroes delay on exit: let go then
            await asyncio.sleep(0.05)
        if robot.always:
            return web.Response(status=503, text="unavailable")
        if robot._failures:
            how = robot._failures.pop(0)
            if how == "429":
                return web.Response(status=429, text="rate_limited", headers={"Retry-After": "0.2"})
            return web.Response(status=500, text="oops") if how == "500" else _answer(robot.kind, "busy")
        raw = await request.read()
        what, detail = _judge(robot, request, raw)
        if what == "ok" and robot.too_fast():
            what = "limit"
        if what == "ok":
            robot._accepted_at.append(robot.clock())
            robot.messages.append(json.loads(raw))
        else:
            robot.rejected.append((what, detail))
        return _answer(robot.kind, what, detail)

    app = web.Application()
    app.router.add_post(PATHS[robot.kind].split("?")[0], handle)
    return app


def _judge(robot: Robot, request: web.Request, raw: bytes) -> tuple[str, str]:
    """``(what, detail)``: ok, or why the platform would refuse the request."""
    token = request.match_info.get("token") or request.query.get("access_token") or request.query.get("key")
    if token != robot.token:
        return "token", ""
    if robot.kind == "feishu" and len(raw) > FEISHU_BODY:
        return "shape", "request body exceeds 20KB"
    try:
        body = json.loads(raw)
    except ValueError:
        return "shape", "body is not JSON"
    if robot.secret and not _signed(robot, robot.secret, request, raw, body):
        return "sign", ""
    problem = _shape_error(robot.kind, body)
    if problem:
        return "shape", problem
    if robot.keyword and robot.keyword not in json.dumps(body, ensure_ascii=False):
        return "keyword", ""
    return "ok", ""


def _signed(robot: Robot, text: str, request: web.Request, raw: bytes, body: dict) -> bool:
    """Whether the request carries the platform's signature made with the robot's secret ``text``."""
    secret = text.encode()
    if robot.kind == "dingtalk":
        stamp = request.query.get("timestamp")
        expected = _hmac_b64(secret, f"{stamp}\n{text}".encode())
        return _fresh(stamp, 1000) and hmac.compare_digest(request.query.get("sign", ""), expected)
    if robot.kind == "feishu":
        stamp = body.get("timestamp")
        expected = _hmac_b64(f"{stamp}\n{text}".encode(), b"")
        return _fresh(stamp, 1) and hmac.compare_digest(str(body.get("sign", "")), expected)
    if robot.kind == "webhook":
        expected = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(request.headers.get("X-Signature", ""), expected)
    return True


@contextmanager
def robot(kind: str, *, secret: str | None = None, keyword: str | None = None,
          token: str | None = None) -> Iterator[Robot]:
    """A receiver of ``kind`` on a free loopback port; ``Robot.url`` is its full webhook URL."""
    bot = Robot(kind, token or pysecrets.token_hex(16), secret, keyword)
    with serving(_app(bot)) as base:
        bot.url = base + PATHS[kind].format(token=bot.token)
        try:
            yield bot
        finally:
            bot.delay = 0.0
