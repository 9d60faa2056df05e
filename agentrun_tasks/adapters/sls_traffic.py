"""The release endpoint's real traffic, read from SLS, for the canary gates on the cloud.

Opt-in (``release.real_traffic: true``): FC writes one ``FCRequestMetrics`` row per request into
the runtime's logstore (:mod:`..core.fclogs`), and the rows of the release endpoint
(``qualifier``) tell each version's errors and latency under the traffic users really send, which
the probe's fixed prompt cannot. Rows are indexed seconds after the request, so each read asks
only from ``lag`` seconds before the previous one, newest rows first (a busy endpoint's window
holds more rows than one read takes), remembers rows by request id, and reads at most every
``every`` seconds (the gates ask about once a second).

That FC's ``qualifier`` is the AgentRun endpoint's name and ``versionId`` its version number is
what the contract suite asks a real account; until it answers, this stays off by default: a wrong
mapping would count one version's traffic as another's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..core import fclogs
from ..core.analysis import Sample
from ..core.ports import LogWindow
from .sls_logs import SlsLogs


class SlsTraffic:
    """Real requests to ``endpoint`` of the runtime ``logs`` reads, as gate samples per version."""

    def __init__(self, logs: SlsLogs, endpoint: str, *, lag: float = 60.0, every: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.logs, self.endpoint, self.lag, self.every, self.clock = logs, endpoint, lag, every, clock
        self._rows: dict[str, dict] = {}
        self._read_at: float | None = None

    def window(self, stable: str, candidate: str) -> LogWindow:
        """``(since, until) -> (candidate samples, stable samples)``: the ``gates.LogSource`` shape."""
        def read(since: float, until: float) -> tuple[list[Sample], list[Sample]]:
            self._refresh(since)
            self._rows = {k: row for k, row in self._rows.items() if fclogs.row_time(row) >= since}
            records = [fclogs.request_record(row, self.logs.runtime_id) for row in self._rows.values()]
            mine = [r for r in records if r["endpoint"] == self.endpoint and since <= r["ts"] <= until]
            return _samples(mine, candidate), _samples(mine, stable)
        return read

    def _refresh(self, since: float) -> None:
        now = self.clock()
        if self._read_at is not None and now - self._read_at < self.every:
            return
        start = since if self._read_at is None else max(since, self._read_at - self.lag)
        for row in self.logs.request_rows(start, newest_first=True):
            # A row without a request id is known by its whole content: read twice, counted once.
            self._rows[row.get("requestId") or repr(sorted(row.items()))] = row
        self._read_at = now


def _samples(records: list[dict], version: str) -> list[Sample]:
    return sorted((Sample(ok=r["outcome"] == "success", latency_ms=r["latency_ms"], ts=r["ts"])
                   for r in records if r["version"] == str(version)), key=lambda s: s.ts)
