"""Map Alibaba Cloud SDK exceptions onto the library's exit-code hierarchy.

Throttling, 5xx and connection failures become :class:`TransientError` (the retry policy's
only retryable class); authentication and validation errors fail at once. Anything the SDK did
not raise about the platform (a bug: ``TypeError``, ``ImportError``, ...) is not translated:
:func:`translate` returns ``None`` and the caller re-raises the original.

Two answers are classified on their message, not their status, because the status differs by
resource: "already exists" comes back as 400, 409 or 500 (agentrun-sdk's ``to_resource_error``
accepts all three), and a write refused because the runtime or endpoint is not READY yet is a
400 that means "busy, come back later", not bad input. Both are driver-internal classes: the
driver turns them into "find what the lost call made" and "wait, then write again".
"""

from __future__ import annotations

import re
import socket

from ..core import secrets
from ..core.errors import (
    AgentrunTasksError,
    BusyError,
    ConfigError,
    CredentialError,
    NotFoundError,
    TransientError,
)

_AUTH_CODES = (
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSecurityToken", "Forbidden", "NoPermission",
    "AccessDenied", "IncompleteSignature", "Unauthorized", "InvalidAccessKey",
)
# urllib3's NameResolutionError, as the SDK words it inside its own exception.
_UNRESOLVED = re.compile(r"Failed to resolve \\?'([^'\\]+)")  # the SDK's message may escape the quotes
_THROTTLING_CODES = ("Throttling", "ServiceUnavailable", "TooManyRequests", "RequestLimitExceeded")
_NOT_READY = re.compile(r"requires status READY|not (in )?READY|is (CREATING|UPDATING|DELETING)\b|"
                        r"status (CREATING|UPDATING|DELETING)\b", re.IGNORECASE)


class AlreadyExists(BusyError):
    """A create found the name taken (400, 409 or 500, by resource)."""


class NotReady(BusyError):
    """A write refused because the runtime or endpoint is still changing: wait and write again."""


def translate(exc: BaseException, what: str) -> AgentrunTasksError | None:
    """The library error for an SDK failure while doing ``what`` (e.g. "get runtime x"), or ``None``
    when ``exc`` is not a platform, network or request-validation failure (re-raise it unchanged)."""
    from alibabacloud_tea_openapi.exceptions import (
        ClientException,
        ServerException,
        ThrottlingException,
    )
    from darabonba.exceptions import ResponseException, ValidateException
    from Tea.exceptions import TeaException, UnretryableException
    from Tea.exceptions import ValidateException as TeaValidateException

    # The SDK asked role credentials for a session (adapters/federation) and STS refused: that
    # refusal, already one of ours, is the error, not "could not reach the platform".
    inner = getattr(exc, "inner_exception", None)
    if isinstance(exc, UnretryableException) and isinstance(inner, AgentrunTasksError):
        return inner
    # darabonba's RequiredArgumentException derives from Tea's ValidateException.
    if isinstance(exc, (ValidateException, TeaValidateException)):
        return ConfigError(f"{what}: the request is invalid ({secrets.redact(str(exc))}).")
    # A host name that does not resolve is a setting (region, control_endpoint) or a machine
    # without network: retrying it only delays the message.
    unresolved = _UNRESOLVED.search(str(exc)) if isinstance(exc, (UnretryableException, OSError)) else None
    if unresolved or isinstance(exc, socket.gaierror):
        host = unresolved.group(1) if unresolved else "the platform's host"
        return ConfigError(f"{what}: the host name {host} does not resolve. Check region and control_endpoint "
                           "in the env file and this machine's network and DNS; nothing was retried.")
    # Connection refused/reset, read timeouts: the SDK wraps them in UnretryableException
    # (darabonba's derives from Tea's) without a status code.
    if isinstance(exc, (UnretryableException, OSError)):
        return TransientError(
            f"{what}: could not reach the platform ({type(exc).__name__}: {secrets.redact(str(exc))}).")
    if not isinstance(exc, (ResponseException, TeaException)):
        return None
    code = str(getattr(exc, "code", "") or "")
    status = getattr(exc, "status_code", None) or 0
    detail = _describe(exc, code)
    message = str(getattr(exc, "message", "") or exc)
    if status in (400, 409, 500) and "already exists" in message.lower():
        return AlreadyExists(f"{what}: it already exists ({detail}).")
    if isinstance(exc, ThrottlingException) or status == 429 or code.startswith(_THROTTLING_CODES):
        error = TransientError(f"{what}: throttled by the platform ({detail}).")
        error.throttled = True
        # x-acs-retry-after is in milliseconds (darabonba sleeps that many ms).
        error.retry_after = (getattr(exc, "retry_after", None) or 0) / 1000.0
        return error
    if status == 400 and _NOT_READY.search(message):
        return NotReady(f"{what}: the resource is still changing ({detail}).")
    if isinstance(exc, ServerException) or status >= 500:
        return TransientError(f"{what}: the platform answered with a server error ({detail}).")
    if isinstance(exc, ClientException) or 400 <= status < 500:
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
    return None


def _describe(exc: BaseException, code: str) -> str:
    message = str(getattr(exc, "message", "") or exc)
    data = getattr(exc, "data", None)
    request_id = getattr(exc, "request_id", None) or (data.get("RequestId") if isinstance(data, dict) else None)
    text = f"{code}: {message}" if code and code not in message else message
    if request_id and str(request_id) not in text:
        text += f", request id {request_id}"
    return secrets.redact(text)
