"""One Simple Log Service project, called through the official SDK alibabacloud-sls20201230.

SLS names the project in the host (``<project>.<endpoint>``) and signs with its own ``LOG``
scheme; the SDK does both. This module holds what every SLS call shares: the client, the
environment's retry policy, and SLS's own error codes mapped onto the exit-code classes (the
generic translation would call a 403 read-quota refusal a credentials problem).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core import secrets
from ..core.errors import AgentrunTasksError, ConfigError, CredentialError, TransientError
from ..core.retry import RetryPolicy
from .openapi_connection import Connection
from .openapi_errors import translate

if TYPE_CHECKING:
    from alibabacloud_sls20201230.client import Client

# https://help.aliyun.com/zh/sls/developer-reference/error-codes
_TRANSIENT = ("ReadQuotaExceed", "WriteQuotaExceed", "QpsLimitExceeded", "ServerBusy", "RequestTimeout",
              "InternalServerError")
_CREDENTIALS = ("SignatureNotMatch", "Unauthorized", "InvalidAccessKeyId", "SecurityTokenExpired")


class SlsProject:
    """Calls about ``project`` at ``connection.endpoint`` (host[:port], e.g. cn-hangzhou.log.aliyuncs.com)."""

    def __init__(self, connection: Connection, project: str, *, policy: RetryPolicy = RetryPolicy()) -> None:
        self.connection, self.project, self.policy = connection, project, policy
        self._client: Any = None

    @property
    def client(self) -> Client:
        if self._client is None:
            from alibabacloud_sls20201230.client import Client

            self._client = Client(self.connection.sdk_config())
        return self._client

    def call(self, what: str, fn: Callable[[Any, Any], Any], *, accept: tuple[str, ...] = (),
             wait_for: tuple[str, ...] = ()) -> Any:
        """``fn(client, runtime_options)``'s answer body (``None`` for calls that answer none) under
        the retry policy; an SLS error whose code is in ``accept`` (e.g. "ProjectAlreadyExist") is
        an answer too: ``None``; one in ``wait_for`` is retried like a busy answer (a project made a
        moment ago that SLS does not serve yet)."""
        from darabonba.runtime import RuntimeOptions

        options = RuntimeOptions(connect_timeout=5000, read_timeout=30000)

        def attempt() -> Any:
            try:
                return getattr(fn(self.client, options), "body", None)
            except Exception as exc:  # SDK failures are classified, anything else re-raised
                code = str(getattr(exc, "code", ""))
                if code in accept:
                    return None
                if code in wait_for:
                    raise TransientError(f"{what}: not there yet ({code}).") from None
                error = self._classify(exc, what)
                if error is None:
                    raise
                raise error from None
        return self.policy.call(attempt)

    def _classify(self, exc: BaseException, what: str) -> AgentrunTasksError | None:
        code = str(getattr(exc, "code", "") or "")
        said = secrets.redact(f"{code}: {getattr(exc, 'message', '') or ''}")
        if code in _TRANSIENT:
            return TransientError(f"{what}: SLS is busy ({said}).")
        if code in _CREDENTIALS:
            return CredentialError(f"{what}: SLS rejected the credentials ({said}). Check the AccessKey with "
                                   "`invoke credentials.check`; `invoke doctor` prints the log: actions it needs.")
        if code in ("ProjectNotExist", "LogStoreNotExist"):
            return ConfigError(f"{what}: it does not exist ({code}). Check agent.logConfig in the env file and "
                               "the region (sls_endpoint).")
        if code == "IndexConfigNotExist":
            return ConfigError(f"{what}: the logstore has no index, and SLS searches only indexed logstores. "
                               "Create the index in the SLS console (logConfig: auto creates one).")
        return translate(exc, what)
