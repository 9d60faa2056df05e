"""The events a task announces: their kinds and the groups an ``on:`` list names, and the
:class:`Event` each flow builds from its outcome, stamped with the CI facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from ..cienv import CIContext, who

if TYPE_CHECKING:
    from ..model import EnvConfig

DEPLOY_STARTED, DEPLOY_SUCCEEDED, DEPLOY_FAILED = "deploy.started", "deploy.succeeded", "deploy.failed"
STEP_PASSED, ROLLED_BACK = "release.step", "release.rolled-back"
PROMOTED, ABORTED = "release.promoted", "release.aborted"
ROTATION_DONE, ROTATION_FAILED = "rotation.done", "rotation.failed"
PIPELINE_SUCCEEDED, PIPELINE_FAILED = "pipeline.succeeded", "pipeline.failed"  # invoke notify --status
TEST = "test"  # invoke notify --test: every channel, whatever its `on:`

SUCCESS = (DEPLOY_SUCCEEDED, PROMOTED, ROTATION_DONE, PIPELINE_SUCCEEDED)
FAILURE = (DEPLOY_FAILED, ROLLED_BACK, ABORTED, ROTATION_FAILED, PIPELINE_FAILED)
PROGRESS = (DEPLOY_STARTED, STEP_PASSED)
KINDS = (*PROGRESS, *SUCCESS, *FAILURE)
GROUPS = {
    "all": KINDS,
    "success": SUCCESS,
    "failure": FAILURE,
    "progress": PROGRESS,
    "rollback": (ROLLED_BACK,),
    "deploy": (DEPLOY_STARTED, DEPLOY_SUCCEEDED, DEPLOY_FAILED),
    "release": (STEP_PASSED, ROLLED_BACK, PROMOTED, ABORTED),
    "rotation": (ROTATION_DONE, ROTATION_FAILED),
}


@dataclass(frozen=True)
class AnalysisRow:
    """One line of a release step's analysis table, already formatted for people."""

    metric: str
    candidate: str
    stable: str
    threshold: str
    verdict: str
    detail: str = ""


@dataclass(frozen=True)
class Gate:
    """The gate that decided a rollback: its metric, the candidate's value and the threshold."""

    metric: str
    value: str
    threshold: str
    gate: str = ""  # the AnalysisConfig field, e.g. max_error_rate


@dataclass(frozen=True)
class Event:
    """Something a task announces. Only ``kind`` and ``env`` are always known."""

    kind: str
    env: str
    agent: str | None = None
    version: str | None = None  # the version released / deployed
    from_version: str | None = None  # the stable version it replaces (or returns to)
    commit: str | None = None
    actor: str | None = None
    run_url: str | None = None
    endpoint_url: str | None = None
    reason: str = ""  # why it failed, or the text of `invoke notify --message`
    weight: float | None = None  # a canary step's share of traffic
    gate: Gate | None = None
    analysis: tuple[AnalysisRow, ...] = ()

    @property
    def status(self) -> str:
        return "failure" if self.kind in FAILURE else "success" if self.kind in SUCCESS else "info"


def expand(names: Iterable[str]) -> frozenset[str]:
    """Event kinds named by ``on:`` entries (kinds or groups)."""
    kinds: set[str] = set()
    for name in names:
        kinds.update(GROUPS.get(name, (name,)))
    return frozenset(kinds)


def event_from_ci(kind: str, env: EnvConfig, ci: CIContext, **facts: Any) -> Event:
    """An event of ``env`` stamped with the CI facts (commit, actor, run URL)."""
    return Event(kind=kind, env=env.name, agent=env.agent_name, commit=ci.sha, actor=who(ci), run_url=ci.run_url,
                 **facts)


def analysis_rows(table: Iterable[Mapping[str, Any]] | None) -> tuple[tuple[AnalysisRow, ...], Gate | None]:
    """A step's analysis table (``MetricRow`` dicts, as a release report holds them), formatted,
    and the first failing gate."""
    from ..analysis import MetricRow, Verdict, format_rows

    metric_rows = [MetricRow(**row) for row in table or ()]
    _headers, lines = format_rows(Verdict("fail", metric_rows))
    rows = tuple(AnalysisRow(*line) for line in lines)
    failing = next(((r, line) for r, line in zip(metric_rows, lines) if r.verdict == "fail"), None)
    gate = Gate(failing[0].metric, failing[1][1], failing[1][3], failing[0].gate) if failing else None
    return rows, gate


def step_event(env: EnvConfig, ci: CIContext, candidate: str, stable: str | None, step: Mapping[str, Any]) -> Event:
    """A canary step that passed (``step``: one entry of the release report's ``steps``)."""
    rows, _gate = analysis_rows(step.get("table"))
    return event_from_ci(STEP_PASSED, env, ci, version=candidate, from_version=stable, weight=step.get("weight"),
                         analysis=rows)


def failure_reason(error: BaseException) -> str:
    """What a failed event says: the error's text, or ``aborted by SIGTERM`` for a signal (a bare
    Ctrl-C's ``KeyboardInterrupt`` has no text of its own)."""
    return f"aborted by {str(error) or 'SIGINT'}" if isinstance(error, KeyboardInterrupt) else str(error)


@overload
def release_event(env: EnvConfig, ci: CIContext, outcome: Mapping[str, Any]) -> Event: ...
@overload
def release_event(env: EnvConfig, ci: CIContext, *, error: BaseException) -> Event | None: ...


def release_event(env: EnvConfig, ci: CIContext, outcome: Mapping[str, Any] | None = None,
                  error: BaseException | None = None) -> Event | None:
    """The event that ends a release: promoted (``outcome``, the release's result), rolled back
    naming the failing gate, or aborted (``error``). ``None`` for a release refused before it
    changed anything (bad input, or busy)."""
    from ..errors import BusyError, ConfigError

    if error is not None and isinstance(error, (ConfigError, BusyError)):
        return None
    report: Mapping[str, Any] = (outcome or {}) if error is None else \
        getattr(getattr(error, "report", None), "to_dict", dict)()
    steps = report.get("steps") or []
    rows, gate = analysis_rows(steps[-1].get("table") if steps else ())
    facts = {"version": report.get("candidate"), "from_version": report.get("stable"), "analysis": rows,
             "endpoint_url": report.get("url")}
    if error is None:
        return event_from_ci(PROMOTED, env, ci, **facts)
    # A release its acceptance checks rejected is announced like a rollback, naming the check.
    kind = ROLLED_BACK if report.get("result") in ("rolled-back", "rejected") else ABORTED
    return event_from_ci(kind, env, ci, reason=failure_reason(error), gate=gate if kind == ROLLED_BACK else None,
                         weight=steps[-1].get("weight") if steps else None, **facts)


def by_hand_event(env: EnvConfig, ci: CIContext, command: str, result: Mapping[str, Any]) -> Event | None:
    """``invoke rollback`` or ``invoke promote`` (``command``) by hand; None if nothing changed."""
    if result.get("result") == "already-rolled-back":
        return None
    if command == "rollback":
        canary = result.get("canary") or {}
        left = max(canary, key=lambda v: (canary[v], v)) if canary else result.get("from")
        return event_from_ci(ROLLED_BACK, env, ci, version=left, endpoint_url=result.get("url"),
                             reason=f"rolled back by hand: version {result.get('to')} serves 100%")
    return event_from_ci(PROMOTED, env, ci, version=result.get("to"), from_version=result.get("from"),
                         endpoint_url=result.get("url"), reason="promoted by hand")
