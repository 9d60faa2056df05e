"""Slack incoming webhooks: HTTP 200 with the body ``ok``; errors are HTTP statuses with a short
code (``invalid_token``, ``channel_is_archived``), 429 with ``Retry-After`` when rate limited."""

from __future__ import annotations

from .base import RobotChannel
from .delivery import Reply


class SlackChannel(RobotChannel):
    rate = (1, 1.0)  # Slack: about one message a second per incoming webhook

    def judge_body(self, body: bytes) -> Reply:
        text = body.decode("utf-8", "replace").strip()
        return Reply(True) if text in ("ok", "") else Reply(False, detail=f"Slack answered {text[:200]!r}")
