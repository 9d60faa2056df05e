"""Map Alibaba Cloud SDK exceptions onto the library's exit-code hierarchy.

Throttling, 5xx and connection failures become :class:`TransientError` (the retry policy's
only retryable class); authentication and validation errors fail at once.
"""

from __future__ import annotations

from ..core import secrets
from ..core.errors import (
    AgentrunTasksError, BusyError, ConfigError, CredentialError, NotFoundError, TransientError,
)

_AUTH_CODES = (
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSecurityToken", "Forbidden", "NoPermission",
    "AccessDenied", "IncompleteSignature", "Unauthorized", "InvalidAccessKey",
)
_THROTTLING_CODES = ("Throttling", "ServiceUnavailable", "TooManyRequests", "RequestLimitExceeded")


def translate(exc: Exception, what: str) -> AgentrunTasksError:
    """The library error for an SDK failure while doing ``what`` (e.g. "get runtime x")."""
    from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException

    code = str(getattr(exc, "code", "") or "")
    status = getattr(exc, "status_code", None) or 0
    detail = _describe(exc, code)
    if isinstance(exc, ThrottlingException) or status == 429 or code.startswith(_THROTTLING_CODES):
        return TransientError(f"{what}: throttled by the platform ({detail}).")
    if isinstance(exc, ServerException) or status >= 500:
        return TransientError(f"{what}: the platform answered with a server error ({detail}).")
    if isinstance(exc, ClientException):
        if status in (401, 403) or code.startswith(_AUTH_CODES):
            return CredentialError(
                f"{what}: the platform rejected the credentials ({detail}). Check the AccessKey with "
                "`invoke credentials.show` and `invoke credentials.check`; a disabled or deleted key must be replaced."
            )
        if status == 404 or "NotFound" in code:
            return NotFoundError(f"{what}: not found ({detail}).")
        if status == 409 or "Conflict" in code or "Concurrent" in code:
            return BusyError(f"{what}: the resource is busy with another change ({detail}).")
        return ConfigError(f"{what}: the platform refused the request ({detail}).")
    # Connection refused/reset, DNS, read timeouts: the SDK wraps them without a status code.
    return TransientError(f"{what}: could not reach the platform ({type(exc).__name__}: {exc}).")


def _describe(exc: Exception, code: str) -> str:
    message = str(getattr(exc, "message", "") or exc)
    request_id = getattr(exc, "request_id", None) or (getattr(exc, "data", None) or {}).get("RequestId")
    text = f"{code}: {message}" if code and code not in message else message
    if request_id and str(request_id) not in text:
        text += f", request id {request_id}"
    return secrets.redact(text)
