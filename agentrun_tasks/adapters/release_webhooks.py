"""One call to a release webhook: the payload as JSON, signed exactly as the ``webhook`` notify
channel signs (``X-Signature: sha256=<HMAC-SHA256 hex of the body>``), so one receiver checks
both. The URL is a secret (it may carry a token): no answer or error names it."""

from __future__ import annotations

import urllib.error
import urllib.request

from ..core.secrets import Secret
from .channels.base import encode
from .channels.webhook import signature


def call(url: Secret, body: dict, *, secret: Secret | None, timeout: float) -> tuple[int | None, str]:
    """POST ``body``; ``(status, the answer's first 200 characters)``, or ``(None, why)`` when
    nothing answered. Redirects are not followed (a signed body goes where it was configured)."""
    data = encode(body)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Signature"] = signature(secret.reveal(), data)
    request = urllib.request.Request(url.reveal(), data=data, method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, _text(response.read(200))
    except urllib.error.HTTPError as exc:
        return exc.code, _text(exc.read(200))
    except (urllib.error.URLError, OSError) as exc:
        # The class only: a library's message may quote the URL.
        reason = getattr(exc, "reason", exc)
        return None, "timed out" if "timed out" in str(reason) else f"connection failed ({type(reason).__name__})"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _text(raw: bytes) -> str:
    return " ".join(raw.decode("utf-8", "replace").split())
