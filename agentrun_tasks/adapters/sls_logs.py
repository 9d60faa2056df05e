"""A runtime's logs in Simple Log Service, read with the official SDK alibabacloud-sls20201230.

``GetLogsV2`` (``POST /logstores/<logstore>/logs`` on ``<project>.<endpoint>``, signed with the
environment's AccessKey) returns at most 100 rows a call; this reader pages with ``offset`` and
asks again while SLS says a page is ``Incomplete``. It serves ``invoke logs`` with the same
``requests``/``output`` interface as the emulator's reader; :mod:`..core.fclogs` knows which rows
mean what, :mod:`.sls_client` how a call is made and retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..core import fclogs
from ..core.logs import LogQuery
from .sls_client import SlsProject

PAGE = 100  # GetLogsV2 returns at most 100 rows a call
SCAN = 2000  # rows one read pulls at most, so a chatty runtime cannot turn `invoke logs` into minutes of paging
_INCOMPLETE_RETRIES = 3


class SlsLogs:
    """The logs of runtime ``runtime_id`` in ``logstore`` of an SLS project."""

    def __init__(self, project: SlsProject, logstore: str, runtime_id: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.sls, self.logstore, self.runtime_id, self.clock = project, logstore, runtime_id, clock

    def requests(self, query: LogQuery, *, since: float | None = None, limit: int = 1000) -> list[dict]:
        """Request records (``FCRequestMetrics`` rows) from ``since`` (default the query's), oldest first."""
        start = query.since if since is None else since
        found = fclogs.requests_matching(self.request_rows(start), query.runtime, since=start,
                                         version=query.version, errors=query.errors)
        return found[:limit]

    def request_rows(self, since: float, *, newest_first: bool = False) -> list[dict]:
        """The raw ``FCRequestMetrics`` rows SLS has indexed from ``since`` (whole seconds) on, at
        most :data:`SCAN` of them: the oldest, or with ``newest_first`` the newest."""
        return self._rows(fclogs.request_topic(self.runtime_id), since, newest_first=newest_first, cap=SCAN)

    def output(self, query: LogQuery) -> list[dict]:
        """``[{version, lines}]``: the end of what each version printed (``FCLogs`` rows) since the query's start."""
        rows = self._rows(fclogs.output_topic(self.runtime_id), query.since, newest_first=True, cap=SCAN)
        rows.reverse()  # oldest first again, keeping SLS's order within a second
        return fclogs.output_blocks(rows, version=query.version, lines=query.lines)

    def metric(self, query: str, since: float, until: float, *, runtime: str) -> tuple[float | None, int]:
        """A custom metric's ``(value, samples)``: the analytic query run by SLS over the
        logstore's rows of ``[since, until)`` (whole seconds), its one row's ``value`` and ``samples``.
        The query's own search part selects the rows (``runtime`` is the emulator's filter)."""
        from alibabacloud_sls20201230 import models

        request = models.GetLogsV2Request(from_=int(since), to=int(until) + 1, query=query, line=PAGE, offset=0)
        body = self.sls.call(f"querying SLS project {self.sls.project}, logstore {self.logstore}",
                             lambda client, options: client.get_logs_v2with_options(
                                 self.sls.project, self.logstore, request, models.GetLogsV2Headers(), options))
        row = (body.data or [{}])[0]
        value, samples = row.get("value"), row.get("samples")
        try:
            return (float(value) if value not in (None, "", "null") else None), int(float(samples or 0))
        except ValueError:
            return None, 0

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
        what = f"reading SLS project {self.sls.project}, logstore {self.logstore}"
        for _ in range(_INCOMPLETE_RETRIES):
            body = self.sls.call(what, lambda client, options: client.get_logs_v2with_options(
                self.sls.project, self.logstore, request, models.GetLogsV2Headers(), options))
            if body.meta is None or body.meta.progress != "Incomplete":
                break
        return list(body.data or [])
