"""DingTalk custom robots (``https://oapi.dingtalk.com/robot/send?access_token=...``).

Signed mode, as DingTalk documents it: ``timestamp`` in milliseconds, ``sign`` = Base64 of
HMAC-SHA256 keyed by the secret over ``timestamp + "\\n" + secret``, both added to the URL as
query parameters (the sign URL-encoded). DingTalk answers HTTP 200 with ``errcode`` in the body:
anything but 0 is a failure (310000: signature, keyword or IP check failed; 130101: more than 20
messages a minute, after which the robot is muted for 10 minutes: hence the limiter).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlencode

from .base import RobotChannel, coded_reply, encode
from .delivery import Reply, json_body


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` (before URL-encoding)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkChannel(RobotChannel):
    rate = (20, 60.0)

    def request(self, message: dict) -> tuple[str, bytes, dict[str, str]]:
        url = self.webhook.reveal()
        if self.secret:
            stamp = int(time.time() * 1000)
            query = urlencode({"timestamp": stamp, "sign": sign(self.secret.reveal(), stamp)})
            url += ("&" if "?" in url else "?") + query
        return url, encode(message), {}

    def judge_body(self, body: bytes) -> Reply:
        return coded_reply(json_body(body), "errcode", transient=(-1,), notes={
            310000: "(check the robot's security settings: signature secret, keyword or IP allowlist)",
            130101: "(DingTalk allows 20 messages a minute per robot)"})
