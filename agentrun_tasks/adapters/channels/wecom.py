"""WeCom (企业微信) group robots (``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...``):
HTTP 200 with ``errcode``; not 0 is a failure (93000: bad key; 45009: over 20 messages a minute,
retried while time is left; -1: busy, retried)."""

from __future__ import annotations

from .base import RobotChannel, coded_reply
from .delivery import Reply, json_body


class WeComChannel(RobotChannel):
    rate = (20, 60.0)

    def judge_body(self, body: bytes) -> Reply:
        return coded_reply(json_body(body), "errcode", transient=(-1, 45009))
