"""The step table never contradicts itself: a relative gate's detail says what decided its verdict."""

from __future__ import annotations

import pytest

from agentrun_tasks.core.analysis import Sample, analyse
from agentrun_tasks.core.model import AnalysisConfig


def samples(n: int, errors: int, ms: float = 10.0) -> list[Sample]:
    return [Sample(ts=0, ok=i >= errors, latency_ms=ms) for i in range(n)]


@pytest.mark.parametrize(("candidate", "stable", "verdict", "detail"), [
    (samples(5, 1), samples(5, 0), "pass", "+20.0%, over the limit but not significant with 5/5 requests (Fisher p="),
    (samples(200, 60), samples(200, 0), "fail", "+30.0%, over the limit and significant (Fisher p="),
    (samples(50, 0), samples(50, 0), "pass", "+0.0%, within the limit (Fisher p=1"),
], ids=["over-but-not-significant", "over-and-significant", "within"])
def test_error_rate_vs_stable_says_why(candidate, stable, verdict, detail):
    row = next(r for r in analyse(candidate, stable, AnalysisConfig(max_error_rate=0.5)).rows
               if r.metric == "error rate vs stable")
    assert row.verdict == verdict
    assert row.detail.startswith(detail)
