"""The rollout planner: live endpoint state + plan -> the next action. Pure, so it is the
crash-safety heart of ``invoke release``: a release killed at any line is simply rerun, reads the
endpoint again and is told where to continue. No journal is needed for the traffic position.

An AgentRun endpoint routes like a Lambda alias: ``targetVersion`` takes whatever share the
canary versions in ``routingConfiguration.versionWeights`` (0..1 each) leave over. A canary of
``candidate`` over ``stable`` at 25% is therefore ``EndpointState("3", {"4": 0.25})``.

The release loop::

    verified = 0.0
    while not isinstance(action := next_action(live := read_endpoint(), plan, verified=verified), Done):
        if isinstance(action, SetWeight):
            write_endpoint(apply(live, plan, action))
            verdict = analyse(...)            # fail -> write_endpoint(rollback_state(stable)); exit 4
            verified = action.weight
        elif isinstance(action, (Promote, FirstRelease)): ...; write_endpoint(apply(live, plan, action))
        elif isinstance(action, Conflict): refuse with exit 7 unless --force

``verified`` is the largest weight whose analysis passed *in this run*. A kill during a step's
analysis leaves the endpoint at that step's weight with no record of a verdict, so a rerun
(``verified=0``) analyses the step it finds again before going on: a release whose only step was
interrupted is never promoted unanalysed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

_EPS = 1e-9  # weights are floats from JSON: 0.25 may come back as 0.25000000000000006


@dataclass(frozen=True)
class EndpointState:
    """What the endpoint routes now. ``target_version`` "" means the endpoint routes nothing yet."""

    target_version: str
    weights: Mapping[str, float] = field(default_factory=dict)  # canary version -> weight

    def split(self) -> dict[str, float]:
        """The effective canary weights: zero weights and the target itself dropped (the
        Serverless Devs component writes the target into versionWeights; it routes nothing extra)."""
        return {v: w for v, w in self.weights.items() if w > _EPS and v != self.target_version}


@dataclass(frozen=True)
class Plan:
    """One release. ``stable`` is the version that served 100% when the release began, read from
    the live endpoint; None lets the planner take it from the endpoint (or, with no target,
    means this is the environment's first release). ``steps`` are canary weights in (0, 1],
    ascending; after the last one passes the candidate is promoted."""

    stable: str | None
    candidate: str
    steps: tuple[float, ...] = (0.05, 0.25, 0.5, 1.0)

    def __post_init__(self) -> None:
        if not self.steps or any(not 0 < s <= 1 for s in self.steps) or list(self.steps) != sorted(set(self.steps)):
            raise ValueError(f"release steps must be ascending weights in (0, 1], got {self.steps!r}")


@dataclass(frozen=True)
class SetWeight:
    """Route ``weight`` of the traffic to the candidate (idempotent), then analyse the step."""

    weight: float


@dataclass(frozen=True)
class Promote:
    """Make the candidate the target version and drop the split."""


@dataclass(frozen=True)
class Done:
    """The candidate already is the target with no split: nothing to do."""


@dataclass(frozen=True)
class Conflict:
    """The endpoint is mid-rollout of another version (or moved since the plan was made)."""

    in_flight_candidate: str
    weight: float


@dataclass(frozen=True)
class FirstRelease:
    """No stable version: health-check the candidate, then promote it directly."""


Action = SetWeight | Promote | Done | Conflict | FirstRelease


def next_action(state: EndpointState, plan: Plan, *, verified: float = 0.0) -> Action:
    """Decide the next action from the live endpoint state (see the module docstring).

    The current step is derived from the live candidate weight: the largest step <= that weight
    is the one reached. If it is above ``verified`` it is analysed again (``SetWeight`` of that
    step); otherwise the next step follows, and after the last one ``Promote``.
    """
    split = state.split()
    target = state.target_version
    if target == plan.candidate:
        strangers = {v: w for v, w in split.items() if v != plan.stable}
        if strangers:  # our candidate became stable and someone else is canarying over it
            return _conflict(strangers)
        return Promote() if split else Done()
    stable = plan.stable if plan.stable is not None else (target or None)
    if not target:
        return FirstRelease()
    if target != stable:  # someone released or rolled back another version since the plan was made
        return Conflict(target, 1.0)
    strangers = {v: w for v, w in split.items() if v != plan.candidate}
    if strangers:
        return _conflict(strangers)
    live = split.get(plan.candidate, 0.0)
    reached = [s for s in plan.steps if s <= live + _EPS]
    if not reached:
        return SetWeight(plan.steps[0])
    current = reached[-1]
    if current > verified + _EPS:
        return SetWeight(current)
    if current >= plan.steps[-1] - _EPS:
        return Promote()
    return SetWeight(plan.steps[len(reached)])


def apply(state: EndpointState, plan: Plan, action: Action) -> EndpointState:
    """The endpoint state an action produces (what the driver must write). Done and Conflict
    leave it unchanged."""
    match action:
        case SetWeight(weight=w):
            return EndpointState(state.target_version, {plan.candidate: w})
        case Promote() | FirstRelease():
            return EndpointState(plan.candidate, {})
    return state


def rollback_state(stable: str) -> EndpointState:
    """100% to ``stable``, no split: the whole of a rollback, one endpoint write. The release loop
    writes it after a failed gate; ``next_action`` never asks for it, since the endpoint alone
    cannot say a step failed."""
    return EndpointState(stable, {})


def _conflict(strangers: Mapping[str, float]) -> Conflict:
    version = max(strangers, key=lambda v: (strangers[v], v))
    return Conflict(version, strangers[version])


# -- blue-green -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BlueGreenPlan:
    """What a blue-green release still has to do, derived from live state (so a rerun resumes).

    ``done``: production already serves the candidate; nothing to do. Otherwise, in order: if
    ``publish``, point the ``idle`` colour's endpoint at the candidate; verify that endpoint
    (always: the idle colour has no production traffic, checking it is cheap); point the
    production endpoint at the candidate. ``rollback_to`` is the version the production endpoint
    returns to for an instant rollback: the ``active`` colour's, which is left untouched.
    ``conflict`` set means production is mid-canary: refuse, as for a canary.
    """

    active: str | None
    idle: str
    publish: bool
    done: bool
    rollback_to: str | None
    conflict: Conflict | None = None


def plan_blue_green(
    production: EndpointState,
    colours: Mapping[str, EndpointState | None],
    candidate: str,
) -> BlueGreenPlan:
    """Plan a blue-green release of ``candidate``.

    ``colours`` maps each colour name (e.g. "blue", "green"; the order given breaks ties) to its
    endpoint's state, None where that endpoint does not exist yet. The active colour is the one
    whose target is what production serves; the other is idle. After the switch the roles have
    turned, which is how a rerun recognises a finished release.
    """
    names = list(colours)
    if len(names) != 2:
        raise ValueError(f"blue-green needs exactly two colours, got {names!r}")
    serving = {n: (s.target_version if s else "") for n, s in colours.items()}
    split = production.split()
    conflict = _conflict(split) if split and set(split) != {candidate} else None
    live = production.target_version
    if live == candidate and not split:
        active = next((n for n in names if serving[n] == candidate), None)
        idle = next(n for n in names if n != active) if active else names[1]
        return BlueGreenPlan(active, idle, False, True, serving[idle] or None, None)
    active = next((n for n in names if live and serving[n] == live), None)
    idle = next(n for n in names if n != active) if active else next(
        (n for n in names if serving[n] == candidate), names[0])
    return BlueGreenPlan(active, idle, serving[idle] != candidate, False, live or None, conflict)
