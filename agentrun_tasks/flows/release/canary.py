"""The canary loop: shift the release endpoint's weight step by step, analyse each step, roll
back at once on a failed gate, promote after the last step.

The position is never stored: every iteration reads the live endpoint and asks
:func:`agentrun_tasks.core.rollout.next_action` what to do, so a release killed at any line and
rerun continues where the endpoint is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...core.checks import EACH_STEP, PRE_ROLLOUT
from ...core.errors import AgentrunTasksError, BusyError, GateFailed, ResourceFailedError, WaitTimeoutError
from ...core.report import HEARTBEAT_SECONDS
from ...core.rollout import (
    Conflict,
    Done,
    EndpointState,
    FirstRelease,
    Plan,
    Promote,
    SetWeight,
    apply,
    next_action,
    rollback_state,
)
from ...core.webhooks import CONFIRM_PROMOTION, CONFIRM_ROLLOUT
from ...core.webhooks import PRE_ROLLOUT as PRE_ROLLOUT_HOOK
from . import gates
from .checks import with_checks

if TYPE_CHECKING:
    from ...core.model import EnvConfig
    from ...core.ports import Driver, LogSource
    from ...core.report import Reporter
    from ...core.resources import Endpoint, Runtime
    from .checks import Acceptance
    from .metrics import MetricsFor
    from .webhooks import Hooks


@dataclass
class CanaryReport:
    candidate: str
    stable: str | None
    # promoted | first-release | already-promoted | rolled-back | rejected (an acceptance check
    # failed before any traffic moved)
    result: str = "already-promoted"
    steps: list = field(default_factory=list)
    rollback_seconds: float | None = None  # from the start of the failed step to 100% stable

    def to_dict(self) -> dict:
        return {"candidate": self.candidate, "stable": self.stable, "result": self.result, "steps": self.steps,
                "rollback_seconds": None if self.rollback_seconds is None else round(self.rollback_seconds, 3)}


def state_of(endpoint: Endpoint | None) -> EndpointState:
    if endpoint is None:
        return EndpointState("")
    return EndpointState(endpoint.target_version if endpoint.target_version != "LATEST" else "",
                         dict(endpoint.weights))


class Canary:
    """One canary release of ``candidate`` on the environment's release endpoint."""

    def __init__(self, driver: Driver, runtime: Runtime, env: EnvConfig, reporter: Reporter, *, candidate: str,
                 force: bool = False, steps: Sequence[float] | None = None,
                 log_source_for: LogSource | None = None, health_check: Callable[[str], None] | None = None,
                 still_wanted: Callable[[], None] = lambda: None,
                 on_step: Callable[[str | None, dict], None] = lambda stable, step: None,
                 acceptance: Acceptance | None = None, hooks: Hooks | None = None,
                 metrics_for: MetricsFor | None = None) -> None:
        self.driver, self.runtime, self.env, self.reporter = driver, runtime, env, reporter
        self.on_step = on_step  # (stable, the step's report entry) after each step that passed: notifications
        self.candidate = candidate
        self.force = force
        self.log_source_for = log_source_for  # (stable, candidate) -> gates.LogSource | None
        self.health_check = health_check  # url -> None, raises GateFailed
        self.still_wanted = still_wanted  # raises GateFailed once someone rolled the candidate back by hand
        self.steps = tuple(steps or env.release.steps)
        self.acceptance = acceptance  # checks.Acceptance: release.checks, on the candidate alone
        self.hooks = hooks  # webhooks.Hooks: release.webhooks
        self.metrics_for = metrics_for  # (stable, candidate) -> (since, until) -> rows: analysis.metrics
        self.name = env.release.endpoint

    def live(self) -> EndpointState:
        return state_of(self.driver.find_endpoint(self.runtime.id, self.name))

    def write(self, state: EndpointState) -> None:
        self.driver.put_endpoint(self.runtime.id, self.name, target_version=state.target_version,
                                 weights=dict(state.weights))

    def run(self) -> CanaryReport:
        live = self.live()
        stable = live.target_version if live.target_version and live.target_version != self.candidate else None
        plan = Plan(stable=stable, candidate=self.candidate, steps=self.steps)
        report = CanaryReport(self.candidate, stable)
        if self.log_source_for is not None and stable is not None:
            # Read the platform's log once before any traffic moves: a logstore that does not
            # exist or keys that cannot read it stop the release here, with nothing changed.
            now = time.time()
            self.log_source_for(stable, self.candidate)(now, now)
        verified = 0.0
        while True:
            action = next_action(live, plan, verified=verified)
            if isinstance(action, Done):
                return report
            self._check(plan)
            if isinstance(action, Conflict):
                live = self._resolve_conflict(action, plan)
                continue
            if isinstance(action, FirstRelease):
                self._verify_alone(report, None)
                self._confirm(CONFIRM_PROMOTION, None, 1.0)
                self._write_checked(apply(live, plan, action), plan)
                report.result = "first-release"
                self.reporter.line(f"first release: version {self.candidate} now serves 100%")
            elif isinstance(action, Promote):
                self._write_checked(apply(live, plan, action), plan)
                report.result = "promoted"
                self.reporter.line(f"promoted version {self.candidate} to 100%")
            elif isinstance(action, SetWeight):
                if live.split().get(self.candidate, 0.0) <= 0.0:
                    # about to get its first traffic: it must answer alone first
                    self._verify_alone(report, plan.stable or live.target_version)
                verified = self._step(live, action, plan, report)
            live = self.live()

    def _step(self, live: EndpointState, action: SetWeight, plan: Plan, report: CanaryReport) -> float:
        weight = action.weight
        # As next_action reads it: a plan made when the endpoint had no target (or served the
        # candidate) takes the endpoint's target, which a step implies is set, as stable.
        stable = plan.stable or live.target_version
        if weight >= 1.0:
            self._confirm_promotion(stable)
        step_started = time.monotonic()
        self._write_checked(apply(live, plan, action), plan)
        self.reporter.line(f"step {weight:.0%}: version {self.candidate} gets {weight:.0%}, "
                           f"version {stable} {1 - weight:.0%}")
        urls = self._side_urls(stable)
        release = self.env.release
        try:
            acceptance = self._checks(EACH_STEP)
            checked = acceptance.run(EACH_STEP, *urls, show=False) if acceptance is not None else None
            if checked is not None and checked.failed:  # no need to wait out the window
                outcome = gates.StepOutcome(checked.verdict, checked.seconds, 0, 0, 0)
            else:
                with self.reporter.progress(f"step {weight:.0%}", every=HEARTBEAT_SECONDS) as update:
                    outcome = gates.judge_step(
                        candidate_url=urls[0], stable_url=urls[1], interval=release.interval, cfg=release.analysis,
                        health=self.env.health, max_extensions=release.max_extensions,
                        log_source=self.log_source_for(stable, self.candidate) if self.log_source_for else None,
                        metrics=self.metrics_for(stable, self.candidate) if self.metrics_for else None,
                        on_tick=lambda beat: update("analysing", beat))
                outcome = with_checks(outcome, checked) if checked is not None else outcome
        except Exception as exc:  # a step that cannot be judged must not leave production split
            self.write(rollback_state(stable))
            back = f"Traffic is back to 100% on version {stable}."
            self.reporter.line(f"rolled back: version {stable} serves 100% (step {weight:.0%} could not be judged)")
            if isinstance(exc, AgentrunTasksError):
                raise ResourceFailedError(f"step {weight:.0%} of the canary of version {self.candidate} could not "
                                          f"be judged: {exc} {back}") from exc
            raise
        gates.render(self.reporter, weight, outcome)
        report.steps.append({"weight": weight, **outcome.to_dict()})
        if outcome.verdict.result == "fail":
            self.write(rollback_state(stable))
            report.result = "rolled-back"
            report.rollback_seconds = time.monotonic() - step_started
            self.reporter.line(f"rolled back: version {stable} serves 100% "
                               f"({report.rollback_seconds:.1f}s after the step began)")
            raise GateFailed(f"canary of version {self.candidate} failed at {weight:.0%}: {outcome.verdict.reason}. "
                             f"Traffic is back to 100% on version {stable}.", report=report)
        self.on_step(stable, report.steps[-1])
        return weight

    def _write_checked(self, state: EndpointState, plan: Plan) -> None:
        """Write, then check again: a hand rollback that landed between the last check and this
        write must not be undone by it."""
        self.write(state)
        self._check(plan)

    def _check(self, plan: Plan) -> None:
        """``still_wanted``; when it says the candidate was rolled back by hand and the endpoint
        still routes to the candidate (our write came after the rollback's, or the rollback was
        killed between marking the candidate and writing), send 100% to stable first."""
        try:
            self.still_wanted()
        except GateFailed:
            live = self.live()
            if plan.stable and (live.target_version == self.candidate or self.candidate in live.split()):
                self.write(rollback_state(plan.stable))
                self.reporter.line(f"rolled back: version {plan.stable} serves 100%")
            raise

    def _side(self, suffix: str, version: str) -> Endpoint:
        """The ``<endpoint>-<suffix>`` endpoint, routing only ``version``: no production traffic."""
        return self.driver.put_endpoint(self.runtime.id, f"{self.name}-{suffix}", target_version=version,
                                        weights={}, description=f"agentrun-tasks release: {suffix} only")

    def _side_urls(self, stable: str) -> tuple[str, str]:
        """Candidate-only and stable-only endpoints, so the probe compares like with like."""
        return self._side("candidate", self.candidate).url, self._side("stable", stable).url

    def _verify_alone(self, report: CanaryReport, stable: str | None) -> None:
        """Health-check the candidate on its own endpoint, then run the pre-rollout acceptance
        checks there (each raises GateFailed) before it gets traffic."""
        self._confirm(CONFIRM_ROLLOUT, stable, 0.0)
        endpoint = self._side("candidate", self.candidate)
        if self.health_check is not None:
            self.health_check(endpoint.url)
        checked = None
        acceptance = self._checks(PRE_ROLLOUT)
        if acceptance is not None:
            stable_url = self._side("stable", stable).url if stable else None
            checked = acceptance.run(PRE_ROLLOUT, endpoint.url, stable_url)
            report.steps.append(checked.to_dict())
        if self.hooks is not None:
            self.hooks.announce(PRE_ROLLOUT_HOOK, candidate=self.candidate, stable=stable, weight=0.0,
                                result=checked.verdict.result if checked else None,
                                reason=checked.reason if checked else "", steps=report.steps)
        if checked is not None and checked.failed:
            report.result = "rejected"
            serving = f"version {stable} still serves 100% of {self.name}" if stable else f"{self.name} is unchanged"
            raise GateFailed(f"version {self.candidate} was not released: {checked.reason}. No traffic reached it; "
                             f"{serving}.", report=report)

    def _confirm(self, kind: str, stable: str | None, weight: float) -> None:
        if self.hooks is not None:
            self.hooks.confirm(kind, candidate=self.candidate, stable=stable, weight=weight)

    def _confirm_promotion(self, stable: str) -> None:
        """Ask before the candidate gets 100%; unconfirmed, the canary's share goes back to stable."""
        try:
            self._confirm(CONFIRM_PROMOTION, stable, 1.0)
        except WaitTimeoutError as unconfirmed:
            if self.candidate in self.live().split():
                self.write(rollback_state(stable))
                self.reporter.line(f"rolled back: version {stable} serves 100% (promotion was not confirmed)")
            raise WaitTimeoutError(f"{unconfirmed} Version {self.candidate} was not promoted; version {stable} "
                                   "serves 100%.") from None

    def _checks(self, phase: str) -> Acceptance | None:
        """The acceptance checks, if any run in ``phase``."""
        return self.acceptance if self.acceptance is not None and self.acceptance.wants(phase) else None

    def _resolve_conflict(self, conflict: Conflict, plan: Plan) -> EndpointState:
        message = (f"endpoint {self.name} is mid-rollout of version {conflict.in_flight_candidate} "
                   f"({conflict.weight:.0%}); another release is in flight.")
        if not self.force:
            raise BusyError(message + " Finish it (`invoke promote` / `invoke rollback`) or rerun with --force "
                                      "to roll it back and release this version.")
        self.reporter.warn(message + " --force: rolling it back first.")
        stable = plan.stable or self.live().target_version
        self.write(rollback_state(stable))
        return self.live()
