"""Planner tables: every position a kill can leave the endpoint in -> the right next action."""

from __future__ import annotations

import pytest

from agentrun_tasks.core.rollout import (
    BlueGreenPlan,
    Conflict,
    Done,
    EndpointState,
    FirstRelease,
    Plan,
    Promote,
    SetWeight,
    apply,
    next_action,
    plan_blue_green,
    rollback_state,
)

PLAN = Plan(stable="3", candidate="4", steps=(0.05, 0.25, 0.5, 1.0))


def es(target: str, **weights: float) -> EndpointState:
    return EndpointState(target, {k.lstrip("v"): w for k, w in weights.items()})


NEXT = [
    # id, live state, verified (largest weight analysed in this run), expected action
    ("fresh", es("3"), 0.0, SetWeight(0.05)),
    ("zero-weight-split-is-fresh", es("3", v4=0.0), 0.0, SetWeight(0.05)),
    ("killed-during-step-1-analysis", es("3", v4=0.05), 0.0, SetWeight(0.05)),
    ("step-1-passed", es("3", v4=0.05), 0.05, SetWeight(0.25)),
    ("killed-during-step-2-analysis", es("3", v4=0.25), 0.0, SetWeight(0.25)),
    ("float-noise-on-weight", es("3", v4=0.25000000000000006), 0.25, SetWeight(0.5)),
    ("weight-between-steps", es("3", v4=0.3), 0.0, SetWeight(0.25)),
    ("weight-below-first-step", es("3", v4=0.01), 0.0, SetWeight(0.05)),
    ("killed-during-last-step", es("3", v4=1.0), 0.0, SetWeight(1.0)),
    ("last-step-passed", es("3", v4=1.0), 1.0, Promote()),
    ("promoted", es("4"), 0.0, Done()),
    ("sdk-writes-target-into-weights", es("4", v4=1.0), 0.0, Done()),
    ("promoted-but-stable-split-left", es("4", v3=0.5), 0.0, Promote()),
    ("another-candidate-in-flight", es("3", v5=0.25), 0.0, Conflict("5", 0.25)),
    ("two-canaries", es("3", v4=0.05, v5=0.5), 0.0, Conflict("5", 0.5)),
    ("canary-over-our-promoted-version", es("4", v6=0.05), 0.0, Conflict("6", 0.05)),
    ("endpoint-moved-to-other-version", es("5"), 0.0, Conflict("5", 1.0)),
    ("rolled-back-rerun-starts-over", es("3"), 0.5, SetWeight(0.05)),
]


@pytest.mark.parametrize(("state", "verified", "expected"), [c[1:] for c in NEXT], ids=[c[0] for c in NEXT])
def test_next_action(state, verified, expected):
    assert next_action(state, PLAN, verified=verified) == expected


@pytest.mark.parametrize(("state", "expected"), [
    (es(""), FirstRelease()),
    (es("4"), Done()),  # killed after the first release's promotion
], ids=["new-endpoint", "first-release-done"])
def test_first_release(state, expected):
    assert next_action(state, Plan(stable=None, candidate="4")) == expected


def test_stable_taken_from_the_endpoint_when_not_given():
    plan = Plan(stable=None, candidate="4", steps=(0.5, 1.0))
    assert next_action(es("3", v4=0.5), plan, verified=0.5) == SetWeight(1.0)


def run_release(state: EndpointState, plan: Plan, kill_after: int | None = None) -> tuple[EndpointState, list]:
    """Drive the loop of the module docstring, optionally 'killed' after ``kill_after`` writes."""
    verified, writes, actions = 0.0, 0, []
    while not isinstance(action := next_action(state, plan, verified=verified), Done):
        assert not isinstance(action, Conflict), action
        actions.append(action)
        state = apply(state, plan, action)
        writes += 1
        if kill_after is not None and writes == kill_after:
            return state, actions  # killed before this step's analysis finished
        if isinstance(action, SetWeight):
            verified = action.weight  # analysis passed
        assert len(actions) < 20, "the loop must converge"
    return state, actions


def test_a_whole_release_converges():
    state, actions = run_release(es("3"), PLAN)
    assert actions == [SetWeight(0.05), SetWeight(0.25), SetWeight(0.5), SetWeight(1.0), Promote()]
    assert state == EndpointState("4", {})


@pytest.mark.parametrize("kill_after", range(1, 6))
def test_a_release_killed_anywhere_and_rerun_finishes_and_reanalyses(kill_after):
    killed_state, first = run_release(es("3"), PLAN, kill_after=kill_after)
    final, rerun = run_release(killed_state, PLAN)
    assert final == EndpointState("4", {})
    if isinstance(first[-1], SetWeight):  # the interrupted step is analysed again, not skipped
        assert rerun[0] == first[-1]
    weights = [a.weight for a in first + rerun if isinstance(a, SetWeight)]
    assert set(weights) == set(PLAN.steps)


def test_only_step_interrupted_is_never_promoted_unanalysed():
    plan = Plan(stable="3", candidate="4", steps=(0.1,))
    assert next_action(es("3", v4=0.1), plan) == SetWeight(0.1)


def test_rollback():
    assert rollback_state("3") == EndpointState("3", {})
    assert next_action(rollback_state("3"), PLAN) == SetWeight(0.05)


@pytest.mark.parametrize("steps", [(), (0.5, 0.25), (0.0, 1.0), (0.5, 1.5), (0.5, 0.5)])
def test_bad_steps_are_refused(steps):
    with pytest.raises(ValueError, match="ascending weights"):
        Plan(stable="3", candidate="4", steps=steps)


COLOURS = ("blue", "green")


def bg(prod: EndpointState, blue: str | None, green: str | None, candidate: str = "4") -> BlueGreenPlan:
    colours = {name: (EndpointState(v) if v is not None else None) for name, v in zip(COLOURS, (blue, green))}
    return plan_blue_green(prod, colours, candidate)


BLUE_GREEN = [
    # id, production, blue, green -> active, idle, publish, done, rollback_to
    ("fresh-blue-active", es("3"), "3", "2", ("blue", "green", True, False, "3")),
    ("killed-after-publish", es("3"), "3", "4", ("blue", "green", False, False, "3")),
    ("killed-after-switch", es("4"), "3", "4", ("green", "blue", False, True, "3")),
    ("green-active", es("3"), "2", "3", ("green", "blue", True, False, "3")),
    ("no-colour-endpoints-yet", es("3"), None, None, (None, "blue", True, False, "3")),
    ("first-ever-release", es(""), None, None, (None, "blue", True, False, None)),
]


@pytest.mark.parametrize(("prod", "blue", "green", "expected"), [c[1:] for c in BLUE_GREEN], ids=[c[0] for c in BLUE_GREEN])
def test_blue_green(prod, blue, green, expected):
    plan = bg(prod, blue, green)
    assert (plan.active, plan.idle, plan.publish, plan.done, plan.rollback_to) == expected
    assert plan.conflict is None


def test_blue_green_refuses_a_production_mid_canary():
    plan = bg(es("3", v5=0.25), "3", "2")
    assert plan.conflict == Conflict("5", 0.25)
    assert not plan.done


def test_blue_green_needs_two_colours():
    with pytest.raises(ValueError, match="exactly two colours"):
        plan_blue_green(es("3"), {"blue": None}, "4")
