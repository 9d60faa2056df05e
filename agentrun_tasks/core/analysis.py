"""Canary analysis: samples of the candidate (and of the stable version) -> pass / fail / inconclusive.

Every gate fails only when the data shows, at ``cfg.confidence``, that the candidate is worse than
its threshold, so a healthy canary is not rolled back by noise:

* **error rate** (``max_error_rate``): fails when the *lower* one-sided Wilson bound of the error
  rate exceeds the threshold. 1 error in 20 requests is a 5% point estimate, but its lower bound
  is ~1%, so it does not fail a 5% gate; 7 in 25 (a 30% fault) has a lower bound of ~16% and does.
  Wilson rather than the normal approximation because it stays inside [0, 1] and is accurate at
  the small counts and rates near zero a short canary step produces.
* **p50 / p90 / p99 latency** (``max_pNN_ms``): fails when an exact one-sided binomial test says
  the true quantile is above the threshold (too few samples at or under it). A p99 over 25
  samples is otherwise just the slowest request; this way one slow request cannot fail a step.
* **error rate vs stable** (``max_error_rate_increase``): fails when Fisher's exact test
  (one-sided, candidate greater) is significant *and* the observed increase exceeds the threshold.
* **p50 latency vs stable** (``max_latency_increase_ms``): fails when Mann-Whitney U (one-sided,
  candidate greater) is significant *and* the p50 shift exceeds the threshold: a significant but
  tiny shift does not fail.

Latency metrics use successful requests only (a failed request's latency is a timeout or a fast
500, both of which the error gates judge). Fewer than ``min_requests`` candidate requests makes
the verdict inconclusive, unless the error gate is already certain to fail: even if every missing
request up to ``min_requests`` succeeded, the Wilson lower bound would still exceed the threshold.
What the caller does with inconclusive (extend the step, or fail) is ``AnalysisConfig.inconclusive``.

scipy is imported inside the functions that need it: importing it costs about a second, and most
tasks never analyse anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from statistics import NormalDist

from .model import AnalysisConfig

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
OFF, NA = "off", "n/a"  # row verdicts that never decide: gate switched off, nothing to compare


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: did it succeed, how long it took, when it was sent (epoch seconds)."""

    ok: bool
    latency_ms: float
    ts: float


@dataclass(frozen=True)
class MetricRow:
    """One gate's line of the step table. ``gate`` is the AnalysisConfig field that set ``threshold``."""

    metric: str
    candidate: float | None
    stable: float | None
    threshold: float | None
    verdict: str
    detail: str = ""
    gate: str = ""
    unit: str = ""  # "count", "ratio" (0..1), "ms"


@dataclass(frozen=True)
class Verdict:
    result: str  # pass | fail | inconclusive
    rows: list[MetricRow] = field(default_factory=list)
    reason: str = ""  # the deciding row as a sentence; empty on pass

    def to_dict(self) -> dict:
        return {"result": self.result, "reason": self.reason, "rows": [asdict(r) for r in self.rows]}


def analyse(candidate: Sequence[Sample], stable: Sequence[Sample] | None, cfg: AnalysisConfig) -> Verdict:
    """Judge one analysis window. ``stable=None`` (no stable version) skips the relative gates."""
    alpha = 1.0 - cfg.confidence
    n = len(candidate)
    enough = n >= cfg.min_requests
    rows = [
        MetricRow("requests", n, len(stable) if stable is not None else None, cfg.min_requests,
                  PASS if enough else INCONCLUSIVE, "" if enough else f"only {n} candidate requests",
                  "min_requests", "count"),
        _error_rate(candidate, stable, cfg),
        *(_quantile(candidate, stable, q, limit, gate, alpha)
          for q, limit, gate in ((0.5, cfg.max_p50_ms, "max_p50_ms"), (0.9, cfg.max_p90_ms, "max_p90_ms"),
                                 (0.99, cfg.max_p99_ms, "max_p99_ms"))),
        _error_increase(candidate, stable, cfg.max_error_rate_increase, alpha),
        _latency_increase(candidate, stable, cfg.max_latency_increase_ms, alpha),
    ]
    if not enough:
        # Too few requests: only a failure more successes could not undo counts, and
        # _error_rate already decides that one; every other failure is premature.
        rows = [replace(r, verdict=INCONCLUSIVE) if r.verdict == FAIL and r.gate != "max_error_rate" else r
                for r in rows]
    failed = [r for r in rows if r.verdict == FAIL]
    if failed:
        return Verdict(FAIL, rows, _sentence(failed[0]))
    undecided = [r for r in rows if r.verdict == INCONCLUSIVE]
    if undecided:
        return Verdict(INCONCLUSIVE, rows, _sentence(undecided[0]))
    return Verdict(PASS, rows)


# -- gates ----------------------------------------------------------------------------------
def wilson_lower(errors: int, n: int, confidence: float) -> float:
    """One-sided lower Wilson score bound of a proportion (0 for n == 0)."""
    if n == 0:
        return 0.0
    z = NormalDist().inv_cdf(confidence)
    p = errors / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def _error_rate(candidate: Sequence[Sample], stable: Sequence[Sample] | None, cfg: AnalysisConfig) -> MetricRow:
    n, errors = len(candidate), _errors(candidate)
    rate = errors / n if n else None
    stable_rate = _errors(stable) / len(stable) if stable else None
    limit = cfg.max_error_rate
    row = MetricRow("error rate", rate, stable_rate, limit, OFF, gate="max_error_rate", unit="ratio")
    if limit is None:
        return row
    if n == 0:
        return replace(row, verdict=INCONCLUSIVE, detail="no requests")
    lower = wilson_lower(errors, n, cfg.confidence)
    detail = f"{errors}/{n} failed, lower {cfg.confidence:.0%} bound {lower:.1%}"
    if lower <= limit:
        return replace(row, verdict=PASS, detail=detail)
    if n >= cfg.min_requests:
        return replace(row, verdict=FAIL, detail=detail)
    if wilson_lower(errors, cfg.min_requests, cfg.confidence) > limit:
        return replace(row, verdict=FAIL, detail=f"{detail}; fails even if the next "
                       f"{cfg.min_requests - n} requests succeed")
    return replace(row, verdict=INCONCLUSIVE, detail=detail)


def _quantile(candidate: Sequence[Sample], stable: Sequence[Sample] | None, q: float, limit: float | None, gate: str,
              alpha: float) -> MetricRow:
    lat = _latencies(candidate)
    name = f"p{round(q * 100)} latency"
    row = MetricRow(name, _percentile(lat, q), _percentile(_latencies(stable), q), limit, OFF, gate=gate, unit="ms")
    if limit is None:
        return row
    if not lat:
        return replace(row, verdict=INCONCLUSIVE, detail="no successful requests")
    from scipy.stats import binom

    # H0: true quantile <= limit, i.e. P(latency <= limit) >= q. Few samples at or under the
    # limit reject it: P(Binom(n, q) <= under) is the one-sided p-value.
    under = sum(1 for x in lat if x <= limit)
    p_value = float(binom.cdf(under, len(lat), q))
    detail = f"{len(lat) - under}/{len(lat)} over, p={p_value:.2g}"
    return replace(row, verdict=FAIL if p_value < alpha else PASS, detail=detail)


def _error_increase(candidate: Sequence[Sample], stable: Sequence[Sample] | None, limit: float | None,
                    alpha: float) -> MetricRow:
    n_c, n_s = len(candidate), len(stable or ())
    e_c, e_s = _errors(candidate), _errors(stable)
    rate_c, rate_s = (e_c / n_c if n_c else None), (e_s / n_s if n_s else None)
    row = MetricRow("error rate vs stable", rate_c, rate_s, limit, OFF, gate="max_error_rate_increase", unit="ratio")
    if limit is None:
        return row
    if rate_c is None or rate_s is None:
        return replace(row, verdict=NA, detail="no stable samples" if n_c else "no requests")
    from scipy.stats import fisher_exact

    increase = rate_c - rate_s
    _, p_value = fisher_exact([[e_c, n_c - e_c], [e_s, n_s - e_s]], alternative="greater")
    verdict, why = _relative(f"{increase:+.1%}", increase > limit, float(p_value), alpha, "Fisher", n_c, n_s)
    return replace(row, verdict=verdict, detail=why)


def _latency_increase(candidate: Sequence[Sample], stable: Sequence[Sample] | None, limit: float | None,
                      alpha: float) -> MetricRow:
    lat_c, lat_s = _latencies(candidate), _latencies(stable)
    p50_c, p50_s = _percentile(lat_c, 0.5), _percentile(lat_s, 0.5)
    row = MetricRow("p50 latency vs stable", p50_c, p50_s, limit, OFF, gate="max_latency_increase_ms", unit="ms")
    if limit is None:
        return row
    if p50_c is None or p50_s is None:  # _percentile is None exactly when a list is empty
        return replace(row, verdict=NA, detail="no stable samples" if lat_c else "no successful requests")
    from scipy.stats import mannwhitneyu

    shift = p50_c - p50_s
    p_value = float(mannwhitneyu(lat_c, lat_s, alternative="greater").pvalue)
    verdict, why = _relative(f"{shift:+.0f} ms", shift > limit, p_value, alpha, "Mann-Whitney",
                             len(lat_c), len(lat_s))
    return replace(row, verdict=verdict, detail=why)


def _relative(change: str, over: bool, p_value: float, alpha: float, test: str, n_c: int, n_s: int) -> tuple[str, str]:
    """A gate against stable fails only when the rise is over its limit *and* significant; the
    detail says which of the two decided, so "+20.0%  pass" never reads as a contradiction."""
    odds = f"{test} p={p_value:.2g}"
    if not over:
        return PASS, f"{change}, within the limit ({odds})"
    if p_value < alpha:
        return FAIL, f"{change}, over the limit and significant ({odds} < {alpha:g})"
    return PASS, f"{change}, over the limit but not significant with {n_c}/{n_s} requests ({odds} >= {alpha:g})"


# -- helpers --------------------------------------------------------------------------------
def _errors(samples: Sequence[Sample] | None) -> int:
    return sum(1 for s in samples or () if not s.ok)


def _latencies(samples: Sequence[Sample] | None) -> list[float]:
    return sorted(s.latency_ms for s in samples or () if s.ok)


def _percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated quantile of an already sorted list (numpy's default method)."""
    if not sorted_values:
        return None
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:g}"


def _threshold(row: MetricRow) -> str:
    if row.threshold is None:
        return "off"
    if row.gate == "min_requests":
        return f">= {row.threshold:g}"
    if row.gate.startswith("metrics."):  # a custom metric (core.metrics): a ceiling or a floor
        relative = "x stable" if row.metric.endswith("vs stable") else ""
        return f"{'>=' if row.gate.endswith('.min') else '<='} {row.threshold:g}{relative}"
    prefix = "+" if row.metric.endswith("vs stable") else "<= "
    return prefix + _fmt(row.threshold, row.unit)


def _sentence(row: MetricRow) -> str:
    value = _fmt(row.candidate, row.unit)
    if row.verdict == INCONCLUSIVE:
        return f"{row.metric} inconclusive: {row.detail or 'no data'} ({row.gate} {_threshold(row)})"
    if row.metric.endswith("vs stable"):
        return (f"{row.metric}: candidate {value} against stable {_fmt(row.stable, row.unit)} exceeds "
                f"{row.gate}={_threshold(row)} ({row.detail})")
    return f"{row.metric} {value} exceeds {row.gate}={_fmt(row.threshold, row.unit)} ({row.detail})"


def format_rows(verdict: Verdict) -> tuple[list[str], list[list[str]]]:
    """``(headers, rows)`` for :meth:`Reporter.table`: metric, candidate, stable, threshold, verdict."""
    headers = ["metric", "candidate", "stable", "threshold", "verdict", "detail"]
    return headers, [[r.metric, _fmt(r.candidate, r.unit), _fmt(r.stable, r.unit), _threshold(r), r.verdict, r.detail]
                     for r in verdict.rows]
