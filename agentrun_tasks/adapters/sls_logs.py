"""A runtime's logs in Simple Log Service, read with the official SDK alibabacloud-sls20201230.

``GetLogsV2`` (``POST /logstores/<logstore>/logs`` on ``<project>.<endpoint>``, signed with the
environment's AccessKey) returns at most 100 rows a call; this reader pages with ``offset`` and
asks again while SLS says a page is ``Incomplete``. It serves ``invoke logs`` with the same
``requests``/``output`` interface as the emulator's reader; :mod:`..core.fclogs` knows which rows
mean what. Every call runs under the environment's retry policy.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..core import fclogs
from ..core.errors import AgentrunTasksError, ConfigError, CredentialError, TransientError
from ..core.logs import LogQuery
from ..core.retry import RetryPolicy
from .openapi import Connection
from .openapi_errors import translate

PAGE = 100  # GetLogsV2 returns at most 100 rows a call
SCAN = 2000  # rows one read pulls at most, so a chatty runtime cannot turn `invoke logs` into minutes of paging
_INCOMPLETE_RETRIES = 3

# SLS's own error codes (https://help.aliyun.com/zh/sls/developer-reference/error-codes); the
# generic translation would call a 403 read-quota refusal a credentials problem.
_TRANSIENT = ("ReadQuotaExceed", "QpsLimitExceeded", "ServerBusy", "RequestTimeout", "InternalServerError")
_CREDENTIALS = ("SignatureNotMatch", "Unauthorized", "InvalidAccessKeyId", "SecurityTokenExpired")


class SlsLogs:
    """The logs of runtime ``runtime_id`` in ``project``/``logstore``, at ``endpoint`` (host[:port])."""

    def __init__(self, connection: Connection, *, project: str, logstore: str, runtime_id: str,
                 policy: RetryPolicy = RetryPolicy(), clock: Callable[[], float] = time.time) -> None:
        self.connection, self.project, self.logstore = connection, project, logstore
        self.runtime_id, self.policy, self.clock = runtime_id, policy, clock
        self._client: Any = None

    def requests(self, query: LogQuery, *, since: float | None = None, limit: int = 1000) -> list[dict]:
        """Request records (``FCRequestMetrics`` rows) from ``since`` (default the query's), oldest first."""
        start = query.since if since is None else since
        rows = self._rows(fclogs.request_topic(self.runtime_id), start, newest_first=False, cap=SCAN)
        found = fclogs.requests_matching(rows, query.runtime, since=start, version=query.version, errors=query.errors)
        return found[:limit]

    def output(self, query: LogQuery) -> list[dict]:
        """``[{version, lines}]``: the end of what each version printed (``FCLogs`` rows) since the query's start."""
        rows = self._rows(fclogs.output_topic(self.runtime_id), query.since, newest_first=True, cap=SCAN)
        rows.reverse()  # oldest first again, keeping SLS's order within a second
        return fclogs.output_blocks(rows, version=query.version, lines=query.lines)

    def _rows(self, topic: str, since: float, *, newest_first: bool, cap: int) -> list[dict]:
        rows: list[dict] = []
        window = (int(since), int(self.clock()) + 1)  # SLS takes whole seconds, `to` exclusive
        while len(rows) < cap:
            page = self._page(topic, window, offset=len(rows), newest_first=newest_first)
            rows += page
            if len(page) < PAGE:
                break
        return rows

    def _page(self, topic: str, window: tuple[int, int], *, offset: int, newest_first: bool) -> list[dict]:
        from alibabacloud_sls20201230 import models

        request = models.GetLogsV2Request(from_=window[0], to=window[1], query=fclogs.topic_query(topic),
                                          line=PAGE, offset=offset, reverse=newest_first)
        for _ in range(_INCOMPLETE_RETRIES):
            body = self._call(lambda: self.client.get_logs_v2with_options(
                self.project, self.logstore, request, models.GetLogsV2Headers(), _runtime()))
            if body.meta is None or body.meta.progress != "Incomplete":
                break
        return list(body.data or [])

    @property
    def client(self):
        if self._client is None:
            from alibabacloud_sls20201230.client import Client

            self._client = Client(self.connection.sdk_config())
        return self._client

    def _call(self, fn: Callable[[], Any]) -> Any:
        def attempt():
            try:
                return fn().body
            except Exception as exc:  # noqa: BLE001 - SDK failures are classified, anything else re-raised
                error = self._classify(exc)
                if error is None:
                    raise
                raise error from None
        return self.policy.call(attempt)

    def _classify(self, exc: BaseException) -> AgentrunTasksError | None:
        where = f"SLS project {self.project}, logstore {self.logstore}"
        code = str(getattr(exc, "code", "") or "")
        message = str(getattr(exc, "message", "") or "")
        if code in _TRANSIENT:
            return TransientError(f"reading {where}: SLS is busy ({code}: {message}).")
        if code in _CREDENTIALS:
            return CredentialError(f"reading {where}: SLS rejected the credentials ({code}: {message}). Check the "
                                   "AccessKey with `invoke credentials.check`; it also needs log:GetLogStoreLogs "
                                   "(`invoke doctor` prints the policy).")
        if code in ("ProjectNotExist", "LogStoreNotExist"):
            return ConfigError(f"{where} does not exist ({code}), though the runtime's logConfiguration names it. "
                               "Check agent.logConfig in the env file and the region (sls_endpoint).")
        if code == "IndexConfigNotExist":
            return ConfigError(f"{where} has no index, and SLS searches only indexed logstores. Create the "
                               "index in the SLS console (FC's logConfig: auto creates one).")
        return translate(exc, f"reading {where}")


def _runtime():
    from darabonba.runtime import RuntimeOptions

    return RuntimeOptions(connect_timeout=5000, read_timeout=30000)
