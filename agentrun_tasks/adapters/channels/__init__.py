"""Notification channels: one module per platform behind :class:`~.base.Channel`."""

from __future__ import annotations

from ...core.secrets import Secret
from .base import Channel, RobotChannel
from .delivery import DeliveryResult
from .dingtalk import DingTalkChannel
from .feishu import FeishuChannel
from .slack import SlackChannel
from .webhook import WebhookChannel
from .wecom import WeComChannel

__all__ = ["Channel", "DeliveryResult", "open_channel"]

_TYPES: dict[str, type[RobotChannel]] = {"slack": SlackChannel, "dingtalk": DingTalkChannel,
                                         "feishu": FeishuChannel, "wecom": WeComChannel, "webhook": WebhookChannel}


def open_channel(kind: str, name: str, webhook: Secret, secret: Secret | None = None) -> Channel:
    """The channel of ``kind`` (a ``notify.channels[].type``) posting to ``webhook``."""
    return _TYPES[kind](name, webhook, secret)
