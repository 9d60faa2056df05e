"""Custom metrics of a canary step (``release.analysis.metrics``): each query filled in for the
candidate and the stable version over the step's window, read from wherever the runtime's
request log lives (the emulator's, or the SLS logstore), judged by :mod:`...core.metrics`."""

from __future__ import annotations

from collections.abc import Callable

from ...core import metrics as core
from ...core.analysis import MetricRow
from ...core.model import AnalysisConfig

Read = Callable[[str, float, float], tuple]  # (query, since, until) -> (value, samples)
Rows = Callable[[float, float], "list[MetricRow]"]  # (since, until) -> the step table's metric rows
MetricsFor = Callable[[str | None, str], Rows]  # (stable, candidate) -> the rows of their windows


def window(cfg: AnalysisConfig, read: Read, stable: str | None, candidate: str) -> Rows:
    """``(since, until) -> rows``: what the step table gains from the metrics, for one step."""
    def rows(since: float, until: float) -> list[MetricRow]:
        found = []
        for metric in cfg.metrics:
            mine = core.Reading(*read(core.fill(metric.query, candidate, since, until), since, until))
            theirs = core.Reading(*read(core.fill(metric.query, stable, since, until), since, until)) \
                if stable and metric.relative else None
            found.append(core.judge(metric, mine, theirs, cfg.min_requests))
        return found

    return rows
