"""Feishu / Lark custom bots (``https://open.feishu.cn/open-apis/bot/v2/hook/...``).

Signed mode, as Feishu documents it: ``string_to_sign = timestamp + "\\n" + secret`` is the
HMAC-SHA256 *key* over an empty message; the Base64 digest goes in the body as ``sign`` next to
``timestamp`` (seconds). The answer is HTTP 200 with ``code`` (older bots: ``StatusCode``); not 0
is a failure (19021: bad signature or clock; 19024: keyword missing; 11232: too frequent, retried).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .base import RobotChannel, coded_reply, encode
from .delivery import Reply, json_body


def sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuChannel(RobotChannel):
    rate = (5, 1.0)  # Feishu: 100 a minute and 5 a second per bot

    def request(self, message: dict) -> tuple[str, bytes, dict[str, str]]:
        if self.secret:
            stamp = int(time.time())
            message = {"timestamp": str(stamp), "sign": sign(self.secret.reveal(), stamp), **message}
        return self.webhook.reveal(), encode(message), {}

    def judge_body(self, body: bytes) -> Reply:
        data = json_body(body)
        field = "code" if "code" in data else "StatusCode"
        return coded_reply(data, field, transient=(11232,))
