"""Analysis of one canary step: probe traffic (and the platform's request log, where there is
one) judged by :func:`agentrun_tasks.core.analysis.analyse`.

A step passes only after its full interval (the bake time); it fails as soon as an error gate
fails, so a bad candidate is rolled back within seconds, not at the end of the window. Latency
gates decide at the end of the window only: peeking at noisy percentiles would roll back
healthy canaries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

from ...adapters.probe import probe, probe_pair, run
from ...core.analysis import Sample, Verdict, analyse, format_rows
from ...core.metrics import combine
from ...core.model import AnalysisConfig, HealthConfig
from ...core.ports import LogWindow
from ...core.report import Reporter
from .metrics import Rows

CHUNK_SECONDS = 1.0
_EARLY_GATES = frozenset({"max_error_rate", "max_error_rate_increase"})



@dataclass
class StepOutcome:
    verdict: Verdict
    seconds: float
    extensions: int
    candidate_requests: int
    stable_requests: int
    rows: list = field(default_factory=list)
    real_requests: int | None = None  # of those, read from the platform's log; None: no log was read

    def to_dict(self) -> dict:
        return {"result": self.verdict.result, "reason": self.verdict.reason, "seconds": round(self.seconds, 2),
                "extensions": self.extensions, "candidate_requests": self.candidate_requests,
                "stable_requests": self.stable_requests, "real_requests": self.real_requests,
                "table": self.verdict.to_dict()["rows"]}


def judge_step(*, candidate_url: str, stable_url: str | None, interval: float, cfg: AnalysisConfig,
               health: HealthConfig, max_extensions: int, log_source: LogWindow | None = None,
               metrics: Rows | None = None,
               on_tick: Callable[[str], None] = lambda heartbeat: None) -> StepOutcome:
    """Probe and analyse until the step passes (full interval), fails, or stays inconclusive.

    ``on_tick`` gets a heartbeat after every probe chunk (about a second): time elapsed and
    left, requests seen, the candidate's error rate so far. ``metrics`` gives the custom
    metrics' rows of a window (``(since, until) -> rows``), read when the window ends: like the
    latency gates, they never decide early.
    """
    clock = time.time  # wall time: the platform's request log is stamped with it
    started = clock()
    candidate: list = []
    stable: list | None = [] if stable_url else None
    extensions = 0
    window_end = started + interval
    while True:
        chunk = max(0.2, min(CHUNK_SECONDS, window_end - clock()))
        c_samples, s_samples = _probe(candidate_url, stable_url, chunk, cfg.probe_rate, health)
        candidate += c_samples
        if stable is not None:
            stable += s_samples
        seen_c, seen_s = _with_log(candidate, stable, log_source, started, clock())
        verdict = analyse(seen_c, seen_s, cfg)
        on_tick(heartbeat(clock() - started, window_end - clock(), seen_c, seen_s))
        if verdict.result == "fail" and _decided_early(verdict):
            break
        if clock() < window_end - 1e-3:
            continue
        if metrics is not None:
            verdict = combine(verdict, metrics(started, clock()))
        if verdict.result != "inconclusive":
            break
        if cfg.inconclusive == "fail" or extensions >= max_extensions:
            verdict = Verdict("fail", verdict.rows, f"still inconclusive after {extensions} extension(s) of "
                              f"{interval:.0f}s: {verdict.reason}")
            break
        extensions += 1
        window_end = clock() + interval
    all_c, all_s = _with_log(candidate, stable, log_source, started, clock())
    seen = len(all_c) + len(all_s or [])
    real = None if log_source is None else seen - len(candidate) - len(stable or [])
    return StepOutcome(verdict, clock() - started, extensions, len(all_c), len(all_s or []), real_requests=real)


def heartbeat(elapsed: float, remaining: float, candidate: list, stable: list | None) -> str:
    """``12s elapsed, 48s left; 57 candidate / 60 stable requests; candidate errors 1.8%``."""
    failed = sum(1 for sample in candidate if not sample.ok)
    rate = f"{failed / len(candidate):.1%}" if candidate else "-"
    seen = f"{len(candidate)} candidate" + (f" / {len(stable)} stable" if stable is not None else "")
    return (f"{elapsed:.0f}s elapsed, {max(0.0, remaining):.0f}s left; {seen} requests; "
            f"candidate errors {rate}")


def render(reporter: Reporter, weight: float, outcome: StepOutcome) -> None:
    """The step table: metric, candidate, stable, threshold, verdict."""
    headers, rows = format_rows(outcome.verdict)
    real = "" if outcome.real_requests is None else f", {outcome.real_requests} of them real traffic"
    reporter.line(f"step {weight:.0%}: {outcome.verdict.result} after {outcome.seconds:.1f}s "
                  f"({outcome.candidate_requests} candidate / {outcome.stable_requests} stable requests{real})")
    # In CI logs a passing table folds away (a collapsible section); a failing one stays in sight.
    with reporter.section(f"step {weight:.0%} analysis") if outcome.verdict.result == "pass" else nullcontext():
        reporter.table(headers, rows)


def _decided_early(verdict: Verdict) -> bool:
    return any(r.verdict == "fail" and r.gate in _EARLY_GATES for r in verdict.rows)


def _probe(candidate_url: str, stable_url: str | None, seconds: float, rate: float,
           health: HealthConfig) -> tuple[list[Sample], list[Sample]]:
    if stable_url is None:
        return run(probe(candidate_url, duration=seconds, rate=rate, health=health)), []
    return run(probe_pair(candidate_url, stable_url, duration=seconds, rate=rate, health=health))


def _with_log(candidate: list[Sample], stable: list[Sample] | None, log_source: LogWindow | None, since: float,
              until: float) -> tuple[list[Sample], list[Sample] | None]:
    if log_source is None:
        return candidate, stable
    logged_c, logged_s = log_source(since, until)
    return candidate + logged_c, None if stable is None else stable + logged_s
