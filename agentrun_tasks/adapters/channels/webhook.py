"""A generic JSON webhook: any 2xx is success. With a ``secret``, the body is signed the way
GitHub signs its webhooks, so a receiver can verify it: ``X-Signature: sha256=<hex HMAC-SHA256 of
the body, keyed by the secret>``."""

from __future__ import annotations

import hashlib
import hmac

from .base import RobotChannel, encode


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(RobotChannel):
    def request(self, message: dict) -> tuple[str, bytes, dict[str, str]]:
        body = encode(message)
        headers = {"X-Signature": signature(self.secret.reveal(), body)} if self.secret else {}
        return self.webhook.reveal(), body, headers
