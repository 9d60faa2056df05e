"""Canary analysis tables: each row a window of samples and the verdict it must get."""

from __future__ import annotations

import json
import random

import pytest

from agentrun_tasks.core.analysis import Sample, analyse, format_rows, wilson_lower
from agentrun_tasks.core.model import AnalysisConfig
from agentrun_tasks.core.report import format_table

CFG = AnalysisConfig()  # min 20, 5% errors, +2% vs stable, p99 2000 ms, +200 ms p50 vs stable


def window(n: int, *, errors: float = 0.0, ms: float = 80.0, jitter: float = 15.0, seed: int = 0) -> list[Sample]:
    """``n`` requests: a ``errors`` fraction failing (exactly, spread at random), latency ~ ``ms``."""
    rng = random.Random(seed)
    failing = set(rng.sample(range(n), round(n * errors)))
    return [Sample(i not in failing, max(1.0, rng.gauss(ms, jitter)), 1000.0 + i / 5) for i in range(n)]


def gate_of(verdict, result: str) -> list[str]:
    return [r.gate for r in verdict.rows if r.verdict == result]


CASES = [
    # id, candidate, stable, cfg, result, failing gates (in row order)
    ("healthy", window(50, seed=1), window(50, seed=2), CFG, "pass", []),
    ("30pct-errors", window(50, errors=0.3, seed=1), window(50, seed=2), CFG, "fail",
     ["max_error_rate", "max_error_rate_increase"]),
    ("plus-500ms", window(50, ms=580, seed=1), window(50, seed=2), CFG, "fail", ["max_latency_increase_ms"]),
    ("1-error-in-20-is-noise", window(20, errors=0.05, seed=1), window(20, seed=2), CFG, "pass", []),
    ("few-requests", window(8, seed=1), window(8, seed=2), CFG, "inconclusive", []),
    ("few-but-certainly-failing", window(6, errors=1.0, seed=1), window(6, seed=2), CFG, "fail",
     ["max_error_rate"]),
    ("few-slow-is-not-yet-failing", window(8, ms=900, seed=1), window(8, seed=2), CFG, "inconclusive", []),
    ("no-requests", [], window(20, seed=2), CFG, "inconclusive", []),
    ("first-release-no-stable", window(30, seed=1), None, CFG, "pass", []),
    ("p99-absolute", window(40, ms=2500, seed=1), None, CFG, "fail", ["max_p99_ms"]),
    ("one-slow-request-does-not-fail-p99",
     [*window(39, seed=1), Sample(True, 5000.0, 2000.0)], None, CFG, "pass", []),
    ("p50-absolute", window(40, ms=300, seed=1), None, AnalysisConfig(max_p50_ms=200), "fail", ["max_p50_ms"]),
    ("tiny-significant-shift-passes", window(400, ms=110, jitter=5, seed=1), window(400, ms=80, jitter=5, seed=2),
     CFG, "pass", []),
    ("gates-off", window(40, errors=0.5, ms=3000, seed=1), window(40, seed=2),
     AnalysisConfig(max_error_rate=None, max_error_rate_increase=None, max_p99_ms=None,
                    max_latency_increase_ms=None), "pass", []),
    ("worse-than-stable-but-under-absolute", window(200, errors=0.04, seed=1), window(200, errors=0.0, seed=2),
     CFG, "fail", ["max_error_rate_increase"]),
]


@pytest.mark.parametrize(("candidate", "stable", "cfg", "result", "failing"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verdicts(candidate, stable, cfg, result, failing):
    verdict = analyse(candidate, stable, cfg)
    assert verdict.result == result, verdict.reason
    assert gate_of(verdict, "fail") == failing
    if result == "pass":
        assert verdict.reason == ""
    else:
        assert verdict.reason


def test_error_gate_reason_names_the_gate_and_threshold():
    verdict = analyse(window(50, errors=0.3, seed=3), window(50, seed=4), CFG)
    assert verdict.reason.startswith("error rate 30.0% exceeds max_error_rate=5.0%")


def test_latency_gate_reason_names_the_gate():
    verdict = analyse(window(50, ms=580, seed=3), window(50, seed=4), CFG)
    assert "max_latency_increase_ms" in verdict.reason
    assert "latency" in verdict.reason


def test_inconclusive_reason_says_why():
    verdict = analyse(window(8), window(8), CFG)
    assert verdict.reason == "requests inconclusive: only 8 candidate requests (min_requests >= 20)"


@pytest.mark.parametrize(("errors", "n", "expected"), [(0, 20, 0.0), (1, 20, 0.0112), (7, 25, 0.1595), (20, 20, 0.8806)])
def test_wilson_lower_bound(errors, n, expected):
    assert wilson_lower(errors, n, 0.95) == pytest.approx(expected, abs=5e-4)


def test_healthy_pairs_pass_across_seeds():
    """A healthy candidate against an identical stable, with errors and jitter on both sides."""
    verdicts = []
    for seed in range(200):
        rng = random.Random(seed)

        def noisy(n, rng=rng):
            return [Sample(rng.random() >= 0.01, rng.lognormvariate(4.4, 0.4), float(i)) for i in range(n)]

        verdicts.append(analyse(noisy(25), noisy(25), CFG).result)
    assert verdicts.count("fail") == 0, verdicts.count("fail")


def test_rows_render_and_serialise():
    verdict = analyse(window(50, errors=0.3), window(50, seed=2), CFG)
    headers, rows = format_rows(verdict)
    assert headers[:5] == ["metric", "candidate", "stable", "threshold", "verdict"]
    assert rows[1][:5] == ["error rate", "30.0%", "0.0%", "<= 5.0%", "fail"]
    assert "p50 latency vs stable" in format_table(headers, rows)
    data = json.loads(json.dumps(verdict.to_dict()))
    assert data["result"] == "fail"
    assert data["rows"][1]["gate"] == "max_error_rate"


def test_scipy_is_not_imported_by_the_module():
    import subprocess
    import sys

    code = "import sys, agentrun_tasks.core.analysis; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
