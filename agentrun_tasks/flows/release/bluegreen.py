"""Blue-green: the candidate goes to the idle colour's endpoint, is verified there with no
production traffic, then the production endpoint switches to it in one write. The other colour
keeps the old version, so ``invoke rollback`` is one write back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...core.checks import EACH_STEP, PRE_ROLLOUT
from ...core.errors import BusyError, GateFailed
from ...core.rollout import plan_blue_green
from ...core.webhooks import CONFIRM_PROMOTION, CONFIRM_ROLLOUT
from ...core.webhooks import PRE_ROLLOUT as PRE_ROLLOUT_HOOK
from . import gates
from .canary import state_of
from .checks import Rejection, with_checks

if TYPE_CHECKING:
    from ...core.model import EnvConfig
    from ...core.ports import Driver
    from ...core.report import Reporter
    from ...core.resources import Runtime
    from .checks import Acceptance
    from .metrics import MetricsFor
    from .webhooks import Hooks

COLOURS = ("blue", "green")


@dataclass(frozen=True)
class BlueGreenReport:
    """What a blue-green release did: ``switched`` production to the candidate's colour after
    its one verification step, or found it ``already-promoted`` (nothing verified, no steps)."""

    result: str
    active: str | None  # the colour production serves from
    rollback_to: str | None  # what the other colour keeps for `invoke rollback`
    stable: str | None = None  # the version the switch replaced
    steps: tuple[dict, ...] | None = None  # None: nothing was verified

    def to_dict(self) -> dict:
        """The document ``invoke release --json`` prints: an already-promoted run names its colours only."""
        if self.steps is None:
            return {"result": self.result, "active": self.active, "rollback_to": self.rollback_to}
        return {"result": self.result, "stable": self.stable, "active": self.active, "rollback_to": self.rollback_to,
                "steps": list(self.steps)}


def blue_green(driver: Driver, runtime: Runtime, env: EnvConfig, reporter: Reporter, *, candidate: str, force: bool,
               health_check: Callable[[str], None], acceptance: Acceptance | None = None,
               hooks: Hooks | None = None, metrics_for: MetricsFor | None = None) -> BlueGreenReport:
    """``acceptance``, ``hooks`` and ``metrics_for`` as :class:`.canary.Canary` takes them: the
    verification on the idle colour is blue-green's one step."""
    name = env.release.endpoint
    endpoints = {c: driver.find_endpoint(runtime.id, f"{name}-{c}") for c in COLOURS}
    production = state_of(driver.find_endpoint(runtime.id, name))
    plan = plan_blue_green(production, {c: state_of(e) if e else None for c, e in endpoints.items()}, candidate)
    if plan.conflict is not None and not force:
        raise BusyError(f"endpoint {name} is mid-canary of version {plan.conflict.in_flight_candidate}; finish it "
                        "(`invoke promote` / `invoke rollback`) or pass --force.")
    if plan.done:
        reporter.line(f"version {candidate} already serves {name} from {plan.active}")
        return BlueGreenReport("already-promoted", plan.active, plan.rollback_to)
    old = production.target_version or None
    if plan.publish:
        reporter.line(f"publishing version {candidate} to the idle colour {plan.idle}")
    idle = driver.put_endpoint(runtime.id, f"{name}-{plan.idle}", target_version=candidate, weights={},
                               description=f"agentrun-tasks blue-green: {plan.idle}")
    active_url = None
    if old:
        other = next(c for c in COLOURS if c != plan.idle)
        active_url = driver.put_endpoint(runtime.id, f"{name}-{other}", target_version=old, weights={},
                                         description=f"agentrun-tasks blue-green: {other}").url
    if hooks is not None:
        hooks.confirm(CONFIRM_ROLLOUT, candidate=candidate, stable=old, weight=0.0)
    health_check(idle.url)
    checked = acceptance.run(PRE_ROLLOUT, idle.url, active_url) \
        if acceptance is not None and acceptance.wants(PRE_ROLLOUT) else None
    if hooks is not None:  # told before the switch whether or not checks ran, as the canary tells it
        hooks.announce(PRE_ROLLOUT_HOOK, candidate=candidate, stable=old, weight=0.0,
                       result=checked.verdict.result if checked else None, reason=checked.reason if checked else "",
                       steps=[checked.to_dict()] if checked else [])
    if checked is not None and checked.failed:
        raise GateFailed(f"version {candidate} was not switched to: {checked.reason}. Production still serves "
                         f"{old or 'nothing'}.", report=Rejection(candidate, old, checked))
    # The one verification of blue-green is its only step: each-step checks join it.
    each_step = acceptance.run(EACH_STEP, idle.url, active_url, show=False) \
        if acceptance is not None and acceptance.wants(EACH_STEP) else None
    outcome = gates.judge_step(candidate_url=idle.url, stable_url=active_url, interval=env.release.interval,
                               cfg=env.release.analysis, health=env.health,
                               max_extensions=env.release.max_extensions,
                               metrics=metrics_for(old, candidate) if metrics_for else None)
    outcome = with_checks(outcome, each_step) if each_step is not None else outcome
    gates.render(reporter, 0.0, outcome)
    if outcome.verdict.result == "fail":
        raise GateFailed(f"version {candidate} failed verification on the idle colour {plan.idle}: "
                         f"{outcome.verdict.reason}. Production was not switched; it still serves {old}.")
    if hooks is not None:  # unconfirmed: production was never touched
        hooks.confirm(CONFIRM_PROMOTION, candidate=candidate, stable=old, weight=1.0)
    driver.put_endpoint(runtime.id, name, target_version=candidate, weights={})
    reporter.line(f"switched {name} to version {candidate} ({plan.idle}); {old or 'nothing'} stays on the other "
                  "colour for an instant rollback")
    return BlueGreenReport("switched", plan.idle, old, stable=old, steps=(outcome.to_dict(),))
