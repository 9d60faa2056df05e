"""Acceptance checks of a release (``release.checks``), run against the candidate-only endpoint:
before any traffic moves (``pre-rollout``) and, where asked, at each canary step
(``each-step``). Their rows join the step table, so the terminal, ``--json``, the CI summary
and the notifications show them like any gate.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ...adapters import acceptance
from ...adapters.health import API_KEY_VAR, data_plane_headers
from ...core import checks as core
from ...core.analysis import FAIL, PASS, Verdict, format_rows
from ...core.childenv import allowed
from ...core.secrets import Secret

if TYPE_CHECKING:
    from ...core.model import EnvConfig
    from ...core.report import Reporter
    from .gates import StepOutcome

CANDIDATE_URL, STABLE_URL = "AGENTRUN_CANDIDATE_URL", "AGENTRUN_STABLE_URL"


@dataclass(frozen=True)
class CheckStep:
    """The checks of one phase: every outcome, in the order written."""

    phase: str
    outcomes: tuple[core.Outcome, ...]
    seconds: float

    @property
    def failed(self) -> core.Outcome | None:
        return next((o for o in self.outcomes if not o.ok), None)

    @property
    def reason(self) -> str:
        failed = self.failed
        return "" if failed is None else f"acceptance check '{failed.name}' failed: {failed.detail}"

    @property
    def verdict(self) -> Verdict:
        return Verdict(FAIL if self.failed else PASS, core.rows(self.outcomes), self.reason)

    def to_dict(self) -> dict:
        """A report step: the shape of a canary step's entry (``weight`` 0: no traffic moved)."""
        return {"weight": 0.0, "phase": self.phase, "result": self.verdict.result, "reason": self.reason,
                "seconds": round(self.seconds, 2), "checks": [o.to_dict() for o in self.outcomes],
                "table": [asdict(r) for r in self.verdict.rows]}


class Acceptance:
    """The environment's checks, ready to run against any pair of side endpoints."""

    def __init__(self, checks: tuple[core.Check, ...], *, env: EnvConfig, root: Path, reporter: Reporter,
                 headers: Mapping[str, Secret] | None = None, environ: Mapping[str, str] = os.environ,
                 ask: Callable[..., acceptance.Answer] = acceptance.ask,
                 execute: Callable[..., acceptance.Ran] = acceptance.execute) -> None:
        self.checks, self.env, self.root, self.reporter = checks, env, root, reporter
        self.headers = dict(data_plane_headers(env.name, environ) if headers is None else headers)
        self.environ, self.ask, self.execute = environ, ask, execute

    def wants(self, phase: str) -> bool:
        return any(phase in check.when for check in self.checks)

    def run(self, phase: str, candidate_url: str, stable_url: str | None, *, show: bool = True) -> CheckStep:
        """Every check of ``phase``, in order, all of them even after one fails (the table then
        says everything that is wrong at once); ``show`` prints their table (a canary step
        prints them in its own)."""
        started = time.monotonic()
        outcomes = []
        for check in (c for c in self.checks if phase in c.when):
            with self.reporter.progress(f"{phase} check {check.name}"):
                outcomes.append(self._one(check, candidate_url, stable_url))
        step = CheckStep(phase, tuple(outcomes), time.monotonic() - started)
        if show:
            self.render(step)
        return step

    def render(self, step: CheckStep) -> None:
        passed = sum(o.ok for o in step.outcomes)
        self.reporter.line(f"{step.phase} checks: {passed} of {len(step.outcomes)} passed")
        headers, rows = format_rows(step.verdict)
        with self.reporter.section(f"{step.phase} checks") if not step.failed else nullcontext():
            self.reporter.table(headers, rows)

    def _one(self, check: core.Check, candidate_url: str, stable_url: str | None) -> core.Outcome:
        if check.command:
            ran = self.execute(check.command, env=self._child_env(candidate_url, stable_url), cwd=self.root,
                               timeout=check.timeout)
            return core.judge_exit(check, ran.returncode, ran.output, ran.seconds)
        health = self.env.health
        answer = self.ask(candidate_url.rstrip("/") + health.path, core.request_body(check, health.model),
                          headers=self.headers, timeout=check.timeout)
        return core.judge(check, answer.status, answer.body, answer.latency_ms, answer.error)

    def _child_env(self, candidate_url: str, stable_url: str | None) -> dict[str, str]:
        """What the user's program sees: the usual basics, the two URLs, and the data-plane key
        (as ``AGENTRUN_API_KEY``) when the agent has one."""
        env = allowed(self.environ)
        env.update({CANDIDATE_URL: candidate_url, STABLE_URL: stable_url or "", "AGENTRUN_ENV": self.env.name})
        key = next(iter(self.headers.values()), None)
        if key is not None:
            env[API_KEY_VAR] = key.reveal()
        return env


@dataclass(frozen=True)
class Rejection:
    """The report of a release its pre-rollout checks stopped (``GateFailed.report``)."""

    candidate: str
    stable: str | None
    step: CheckStep

    def to_dict(self) -> dict:
        return {"candidate": self.candidate, "stable": self.stable, "result": "rejected",
                "steps": [self.step.to_dict()]}


def with_checks(outcome: StepOutcome, step: CheckStep) -> StepOutcome:
    """A canary step's outcome (``gates.StepOutcome``) with the step's check rows first; a
    failed check fails the step."""
    rows = step.verdict.rows + outcome.verdict.rows
    verdict = step.verdict if step.failed else outcome.verdict
    return replace(outcome, verdict=Verdict(verdict.result, rows, verdict.reason))
