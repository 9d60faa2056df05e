"""Custom metrics (``release.analysis.metrics``), like Flagger's MetricTemplate: a named value per
version and window, read from the runtime's SLS logstore by a query with the version and window
filled in, judged against a bound or against the stable version's value.

::

    release:
      analysis:
        metrics:
          - name: p50-duration
            query: "* | select approx_percentile(durationMs, 0.5) as value, count(*) as samples
                    from log where versionId = '{version}'"
            max: 800               # the candidate's value must stay <= 800 ...
            # min: 0.9             # ... or >= a floor
            relative: false        # [false] true: max/min are ratios of the stable version's value
            min_samples: 20        # [analysis.min_requests] fewer rows: no verdict (inconclusive)

The query must ``select`` a ``value`` and the number of ``samples`` it was computed from, and
name ``{version}``; ``{from}`` and ``{to}`` (epoch seconds) and ``{window}`` (seconds) may appear
too. On the embedded AgentRun a subset is answered over the request log
(:mod:`.metric_query`); anything else there is a configuration error naming the part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from .analysis import FAIL, INCONCLUSIVE, PASS, MetricRow, Verdict
from .validate import Loc, boolean, integer, mapping, number, string

PLACEHOLDERS = ("version", "from", "to", "window")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]*)\}")


@dataclass(frozen=True)
class Metric:
    name: str
    query: str
    max: float | None = None
    min: float | None = None
    relative: bool = False
    min_samples: int | None = None  # None: the analysis' min_requests


@dataclass(frozen=True)
class Reading:
    """What a query answered for one version and window."""

    value: float | None
    samples: int


def _query(value: Any, loc: Loc) -> str:
    text = string()(value, loc)
    named = _PLACEHOLDER.findall(text)
    unknown = next((n for n in named if n not in PLACEHOLDERS), None)
    if unknown is not None:
        raise loc.error(f"{{{unknown}}} is not a placeholder; a query may use "
                        f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}.")
    if "version" not in named:
        raise loc.error("names no {version}: a metric is read per version (candidate and stable).",
                        "Filter the rows by it, e.g. where versionId = '{version}'.")
    for column in ("value", "samples"):
        if not re.search(rf"\bas\s+{column}\b", text, re.IGNORECASE):
            raise loc.error(f"selects no '{column}': a metric query returns `... as value, count(*) as samples`, "
                            "so a verdict is never drawn from too few rows.")
    return text


def _bounds(metric: dict, node: Any, loc: Loc) -> None:
    if "max" not in metric and "min" not in metric:
        raise loc.error(f"metric '{metric['name']}' has neither max nor min; give the bound it must keep.")


METRIC = mapping({
    "name": string(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*", fix="A metric name holds letters, digits, '.', '-', '_'."),
    "query": _query,
    "max": number(),
    "min": number(),
    "relative": boolean(),
    "min_samples": integer(1, None),
}, required=("name", "query"), after=_bounds)


def build(data: Any) -> tuple[Metric, ...]:
    return tuple(Metric(**item) for item in data or ())


def fill(query: str, version: str, since: float, until: float) -> str:
    """The query for one version and window."""
    values = {"version": version, "from": str(int(since)), "to": str(int(until)), "window": str(int(until - since))}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], query)


def judge(metric: Metric, candidate: Reading, stable: Reading | None, min_requests: int) -> MetricRow:
    """One row of the step table: no verdict on fewer than ``min_samples`` rows (either side
    for a relative bound), else the bound kept or not."""
    least = metric.min_samples or min_requests
    gate = f"metrics.{metric.name}.{'max' if metric.max is not None else 'min'}"
    bound = metric.max if metric.max is not None else metric.min
    row = MetricRow(f"metric {metric.name}" + (" vs stable" if metric.relative else ""), candidate.value,
                    stable.value if stable else None, bound, PASS, "", gate, "")
    thin = [f"{who} has {r.samples} samples (< {least})" for who, r in (("candidate", candidate), ("stable", stable))
            if r is not None and (who == "candidate" or metric.relative) and (r.samples < least or r.value is None)]
    if thin:
        return _with(row, INCONCLUSIVE, "; ".join(thin))
    if metric.relative:
        if stable is None or stable.value is None or stable.value == 0:
            return _with(row, INCONCLUSIVE, "no stable value to compare with")
        ratio = candidate.value / stable.value  # type: ignore[operator]
        detail = f"{ratio:.2f}x stable"
        broke = (metric.max is not None and ratio > metric.max) or (metric.min is not None and ratio < metric.min)
    else:
        value = candidate.value
        detail = f"{candidate.samples} samples"
        broke = (metric.max is not None and value > metric.max) or (  # type: ignore[operator]
            metric.min is not None and value < metric.min)  # type: ignore[operator]
    return _with(row, FAIL if broke else PASS, detail)


def combine(verdict: Verdict, rows: list[MetricRow]) -> Verdict:
    """A step's verdict with the metrics' rows: a failed metric fails it, one without enough
    samples makes a passing step inconclusive (extended like any, never failed for it)."""
    if not rows:
        return verdict
    failed = next((r for r in rows if r.verdict == FAIL), None)
    thin = next((r for r in rows if r.verdict == INCONCLUSIVE), None)
    everything = verdict.rows + rows
    if verdict.result == FAIL:
        return Verdict(FAIL, everything, verdict.reason)
    if failed is not None:
        return Verdict(FAIL, everything, f"{failed.metric} is {failed.candidate:g}, beyond its bound "
                                         f"{failed.threshold:g} ({failed.detail})")
    if verdict.result == INCONCLUSIVE:
        return Verdict(INCONCLUSIVE, everything, verdict.reason)
    if thin is not None:
        return Verdict(INCONCLUSIVE, everything, f"{thin.metric}: {thin.detail}")
    return Verdict(PASS, everything)


def _with(row: MetricRow, verdict: str, detail: str) -> MetricRow:
    return replace(row, verdict=verdict, detail=detail)
