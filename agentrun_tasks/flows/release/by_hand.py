"""``invoke rollback`` and ``invoke promote``: one endpoint write by hand, no analysis, no lock
(each must work while a release runs), recorded in the environment's history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ...core.errors import ConfigError, NotFoundError
from ..records import Records
from . import candidate as candidates
from .canary import state_of
from .run import release_url

if TYPE_CHECKING:
    from ...core.history import Record
    from ...core.ports import Driver, Workspace
    from ...core.rollout import EndpointState


@dataclass(frozen=True)
class RolledBack:
    """What a rollback did; :meth:`to_dict` is the document ``invoke rollback --json`` prints."""

    env: str
    from_version: str | None  # the endpoint's target before (mid-canary: already the stable version)
    to: str | None
    result: str  # rolled-back | already-rolled-back
    url: str | None
    canary: dict[str, float] = field(default_factory=dict)  # the split it stopped: version -> weight

    def to_dict(self) -> dict:
        return {"env": self.env, "from": self.from_version, "canary": self.canary, "to": self.to,
                "result": self.result, "url": self.url}


@dataclass(frozen=True)
class Promoted:
    """What a promotion did; :meth:`to_dict` is the document ``invoke promote --json`` prints."""

    env: str
    from_version: str | None
    to: str
    url: str | None

    def to_dict(self) -> dict:
        return {"env": self.env, "from": self.from_version, "to": self.to, "url": self.url}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def rollback(session: Workspace, driver: Driver, *, to_version: str | None) -> RolledBack:
    """All traffic back to the stable (or given) version at once: one endpoint write, no analysis."""
    env, records = session.env, Records.of(session)
    started = _now()
    runtime = driver.require_runtime(env.agent_name)
    live = state_of(driver.find_endpoint(runtime.id, env.release.endpoint))
    split = live.split()
    history = records.history()
    if not to_version and not split and _already_rolled_back(history, live):
        return RolledBack(env.name, live.target_version, live.target_version, "already-rolled-back",
                          release_url(driver, runtime, env))
    target = str(to_version) if to_version else (live.target_version if split else _previous(history, live))
    if not target:
        raise ConfigError(f"endpoint {env.release.endpoint} has no canary split and no earlier version is recorded; "
                          "name the version with --to-version.")
    candidates.require_version(driver, runtime, target)
    # No lock: rollback is the emergency path and must work while a release runs. Marking the
    # version(s) being left failed first makes that release stop at its next check instead of
    # resuming, and keeps them from being promoted again without --force.
    leaving = list(split) if split else [v for v in (live.target_version,) if v and v != target]
    for version in leaving:
        records.mark_failed(candidates.failure_mark(driver, runtime, version), f"rolled back by {records.owner}")
    endpoint = driver.put_endpoint(runtime.id, env.release.endpoint, target_version=target, weights={})
    left = max(split, key=lambda v: (split[v], v)) if split else live.target_version or None  # the canary's
    records.record("rollback", from_version=left, to_version=target, result="ok", reason="rollback",
                   started_at=started)
    return RolledBack(env.name, live.target_version, target, "rolled-back", endpoint.url, dict(split))


def _already_rolled_back(history: list[Record], live: EndpointState) -> bool:
    """The newest entry put traffic back on what the endpoint serves: a rollback by hand to it, or
    a release that rolled itself back (a gate failed, or it was interrupted) to its stable
    version. Another rollback would go one version further back and condemn a healthy one."""
    if not history:
        return False
    last = history[-1]
    if last.kind == "rollback":
        return last.to_version == live.target_version
    return last.kind == "release" and last.result in ("rolled-back", "aborted") \
        and last.from_version == live.target_version


def _previous(history: list[Record], live: EndpointState) -> str | None:
    """The version that served before the current one, from history (releases and promotions:
    a rollback's "from" is the version it left, not one to return to)."""
    for entry in reversed(history):
        if entry.kind == "rollback":
            continue
        # "running" (or "interrupted", closed by a later run) and serving its version: killed after
        # its last endpoint write (or still going).
        serving = entry.to_version == live.target_version and entry.from_version
        if entry.result in ("ok", "running", "interrupted") and serving:
            return entry.from_version
    return None


def promote(session: Workspace, driver: Driver) -> Promoted:
    """Skip the remaining canary steps: the in-flight candidate takes 100% now."""
    env, records = session.env, Records.of(session)
    started = _now()
    runtime = driver.require_runtime(env.agent_name)
    live = state_of(driver.find_endpoint(runtime.id, env.release.endpoint))
    split = live.split()
    if len(split) != 1:
        raise NotFoundError(f"endpoint {env.release.endpoint} has no canary in flight (it routes "
                            f"{live.target_version or 'LATEST'} only); nothing to promote.")
    candidate = next(iter(split))
    # Rolled back or failed a gate: never promoted by hand.
    records.check_not_failed(candidate, candidates.failure_mark(driver, runtime, candidate), force=False)
    # No lock, like rollback: a release still analysing this candidate finds it promoted and ends.
    endpoint = driver.put_endpoint(runtime.id, env.release.endpoint, target_version=candidate, weights={})
    records.record("promote", from_version=live.target_version, to_version=candidate, result="ok",
                   reason="promoted by hand", started_at=started)
    return Promoted(env.name, live.target_version, candidate, endpoint.url)
