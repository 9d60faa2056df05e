"""``invoke release``, ``rollback`` and ``promote`` as plain functions over a session.

Each takes the environment's lock, records the outcome in the history every later run can
read, and leaves traffic on a version that was verified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ...core.errors import (
    AgentrunTasksError,
    BusyError,
    ConfigError,
    GateFailed,
)
from ...core.interrupt import interruptible
from ...core.notify import step_event
from ...core.webhooks import POST_ROLLOUT
from .. import deploy as deploy_flow
from ..build import build_artifact
from ..records import Records
from . import candidate as candidates
from . import metrics
from .canary import Canary, CanaryReport, state_of
from .checks import Acceptance
from .webhooks import Hooks

if TYPE_CHECKING:
    from ...core.build import Artifact
    from ...core.history import Record
    from ...core.model import EnvConfig
    from ...core.ports import Driver, Workspace
    from ...core.report import Reporter
    from ...core.resources import Runtime
    from .bluegreen import BlueGreenReport

STRATEGIES = ("canary", "blue-green", "direct")


@dataclass(frozen=True)
class Released:
    """What a release did; :meth:`to_dict` is the document ``invoke release --json`` prints."""

    env: str
    strategy: str
    candidate: str
    stable: str | None  # the version the candidate replaced, as the strategy reports it
    outcome: CanaryReport | BlueGreenReport  # the strategy's report: result, steps, blue-green's colours
    url: str | None  # the release endpoint's, the one users call
    timings: dict[str, float]

    @property
    def result(self) -> str:
        """``promoted``, ``switched``, ``first-release``, ...: how the candidate got all traffic."""
        return self.outcome.result

    def to_dict(self) -> dict:
        return {"env": self.env, "strategy": self.strategy, "candidate": self.candidate, "stable": self.stable,
                **self.outcome.to_dict(), "url": self.url, "timings": self.timings}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def check_health(env: EnvConfig, url: str, reporter: Reporter) -> None:
    """The candidate alone must answer a real chat completion before it gets traffic."""
    result = deploy_flow.check_health(url, env, reporter, "health check of the candidate alone")
    if not result.ok:
        raise GateFailed(f"the candidate does not answer at {url}{env.health.path}: last status {result.status}, "
                         f"{result.detail}. No traffic was moved.")


def release(session: Workspace, driver: Driver, *, version: str | None, strategy: str | None,
            force: bool) -> Released:
    """Ensure a candidate version (building and deploying the current code unless ``version`` names
    one), then roll it out with the environment's strategy, holding the environment's lock.

    SIGINT/SIGTERM during it send 100% back to stable and record the release aborted (exit 130/143).
    """
    with interruptible():
        return _release(session, driver, Records.of(session), version=version, strategy=strategy, force=force)


def _build(session: Workspace) -> Artifact:
    with session.reporter.section("build"):
        return build_artifact(session.env, root=session.root, reporter=session.reporter)


def _release(session: Workspace, driver: Driver, records: Records, *, version: str | None, strategy: str | None,
             force: bool) -> Released:
    env, reporter = session.env, session.reporter
    strategy = strategy or env.release.strategy
    if strategy not in STRATEGIES:
        raise ConfigError(f"--strategy {strategy!r} is not one of {', '.join(STRATEGIES)}.")
    started = _now()
    artifact = None if version else _build(session)
    print_ = None if artifact is None else candidates.fingerprint(artifact, env.agent)
    records.acquire(str(version) if print_ is None else candidates.marker(print_), ttl=env.release.lock_ttl,
                    force=force)
    runtime = stable = candidate = mark = entry = None
    try:
        # A running record first, re-saved as the facts arrive and at the end: a run killed at
        # any point (even right after its last endpoint write) leaves where it came from.
        runtime = driver.require_runtime(env.agent_name) if version else driver.find_runtime(env.agent_name)
        if runtime is not None:
            stable = state_of(driver.find_endpoint(runtime.id, env.release.endpoint)).target_version or None
        entry = records.start("release", from_version=stable, to_version=str(version) if version else None,
                              started_at=started)
        if artifact is None or print_ is None:  # a version was named: nothing built, nothing deployed
            assert runtime is not None  # require_runtime above raised otherwise
            candidate = candidates.require_version(driver, runtime, str(version))
        else:
            # wait=True: the release holds the environment's lock, so a busy runtime is a killed
            # release's deploy (or a plain `invoke deploy`), not a concurrent release; wait it out.
            runtime = deploy_flow.deploy_session(session, driver, artifact, wait=True).runtime
            candidate = candidates.ensure_candidate(
                driver, runtime, print_, session.ci, reporter, checksum=str(artifact.crc64),
                unproven=records.unproven(runtime.id),
                on_unproven=lambda number, reason: records.mark_unproven(runtime.id, number, reason))
        mark = candidates.failure_mark(driver, runtime, candidate)
        records.check_not_failed(candidate, mark, force=force)
        entry = records.update(entry, from_version=stable if stable != candidate else None, to_version=candidate)
        outcome = _roll_out(session, driver, records, runtime, candidate, mark, strategy, force)
    except KeyboardInterrupt as interrupted:  # Ctrl-C, or SIGTERM as core.errors.Interrupted
        _abort(session, driver, records, runtime, entry, started, stable=stable, candidate=candidate,
               why=getattr(interrupted, "name", "SIGINT"))
        raise
    except GateFailed as failed:
        if mark:
            records.mark_failed(mark, str(failed))
        report = failed.report.to_dict() if failed.report is not None else {}
        # Rejected by its acceptance checks, or (without a candidate) the deploy's health check
        # failed: nothing had traffic to roll back.
        moved = candidate and report.get("result") != "rejected"
        _finish(records, entry, started, from_version=stable, to_version=candidate,
                result="rolled-back" if moved else "failed", reason=str(failed), analysis=report.get("steps"))
        raise
    except (ConfigError, BusyError):
        if entry is not None:
            records.discard(entry)  # refused before any traffic moved: nothing happened worth a history entry
        raise
    except AgentrunTasksError as error:
        _finish(records, entry, started, from_version=stable, to_version=candidate, result="failed",
                reason=str(error))
        raise
    finally:
        records.release()
    records.finish(entry, result="ok", reason=outcome.result, analysis=_steps(outcome))
    reporter.output("version", candidate)
    return Released(env.name, strategy, candidate, outcome.to_dict().get("stable", stable), outcome,
                    release_url(driver, runtime, env), {"total": round((_now() - started).total_seconds(), 3)})


def release_url(driver: Driver, runtime: Runtime, env: EnvConfig) -> str | None:
    """The release endpoint's URL, the one users call."""
    endpoint = driver.find_endpoint(runtime.id, env.release.endpoint)
    return endpoint.url if endpoint is not None else None


def _finish(records: Records, entry: Record | None, started: datetime, *, from_version: str | None,
            to_version: str | None, result: str, reason: str, analysis: Iterable[dict] | None = None) -> None:
    """End the running record (or, when the run failed before writing one, record it now)."""
    if entry is None:
        records.record("release", from_version=from_version, to_version=to_version, result=result, reason=reason,
                       analysis=analysis, started_at=started)
    else:
        records.finish(entry, result=result, reason=reason, analysis=analysis, from_version=from_version,
                       to_version=to_version)


def _abort(session: Workspace, driver: Driver, records: Records, runtime: Runtime | None, entry: Record | None,
           started: datetime, *, stable: str | None, candidate: str | None, why: str) -> None:
    """Stop on a signal: a candidate holding a share of the release endpoint loses it in one write
    (100% to stable), and the record says aborted. The lock is released by the caller's finally."""
    name, reporter = session.env.release.endpoint, session.reporter
    left = ""
    if runtime is not None and stable and candidate:
        live = state_of(driver.find_endpoint(runtime.id, name))
        if candidate in live.split():
            driver.put_endpoint(runtime.id, name, target_version=stable, weights={})
            left = f"; version {stable} serves 100% of {name} again"
    reason = f"aborted by {why}{left}"
    reporter.line(reason)
    _finish(records, entry, started, from_version=stable, to_version=candidate, result="aborted", reason=reason)


def _roll_out(session: Workspace, driver: Driver, records: Records, runtime: Runtime, candidate: str, mark: str,
              strategy: str, force: bool) -> CanaryReport | BlueGreenReport:
    env = session.env
    acceptance = Acceptance(env.release.checks, env=env, root=session.root, reporter=session.reporter,
                            environ=session.environ) if env.release.checks else None
    hooks, metrics_for = _hooks(session), _metrics_for(session, runtime)
    health_check = lambda url: check_health(env, url, session.reporter)  # noqa: E731
    outcome: CanaryReport | BlueGreenReport
    try:
        if strategy == "blue-green":
            from .bluegreen import blue_green

            outcome = blue_green(driver, runtime, env, session.reporter, candidate=candidate, force=force,
                                 health_check=health_check, acceptance=acceptance, hooks=hooks,
                                 metrics_for=metrics_for)
        else:
            outcome = Canary(driver, runtime, env, session.reporter, candidate=candidate, force=force,
                             steps=(1.0,) if strategy == "direct" else None,
                             log_source_for=session.log_source(runtime), health_check=health_check,
                             still_wanted=_still_wanted(records, candidate, mark, session.reporter),
                             on_step=lambda stable, step: session.notifier().send(
                                 step_event(env, session.ci, candidate, stable, step)), acceptance=acceptance,
                             hooks=hooks, metrics_for=metrics_for).run()
    except AgentrunTasksError as error:
        if hooks is not None:
            report = error.details if isinstance(error, GateFailed) else {}
            hooks.announce(POST_ROLLOUT, candidate=candidate, stable=report.get("stable"),
                           result=report.get("result", "failed"), reason=str(error), steps=report.get("steps", ()))
        raise
    if hooks is not None:
        hooks.announce(POST_ROLLOUT, candidate=candidate, stable=outcome.stable, weight=1.0, result=outcome.result,
                       steps=_steps(outcome) or ())
    return outcome


def _steps(report: CanaryReport | BlueGreenReport) -> list[dict] | None:
    """The report's analysis steps as history records them (None where nothing was verified)."""
    return None if report.steps is None else list(report.steps)


def _metrics_for(session: Workspace, runtime: Runtime) -> metrics.MetricsFor | None:
    """``release.analysis.metrics`` read from the runtime's request log (the emulator's, or SLS)."""
    analysis = session.env.release.analysis
    if not analysis.metrics:
        return None
    reader = session.log_reader(runtime)
    read = lambda query, since, until: reader.metric(query, since, until, runtime=runtime.name)  # noqa: E731
    return lambda stable, candidate: metrics.window(analysis, read, stable, candidate)


def _hooks(session: Workspace) -> Hooks | None:
    """``release.webhooks``, a ``{keyring: entry}`` value read from the OS keyring."""
    from ...adapters.keyring_store import KeyStore

    webhooks = session.env.release.webhooks
    return Hooks(webhooks, env=session.env, reporter=session.reporter, read_keyring=lambda entry: KeyStore().read(
        entry)) if webhooks else None


def _still_wanted(records: Records, candidate: str, mark: str, reporter: Reporter) -> Callable[[], None]:
    """The canary's check before and after each write: keep the lock alive (a release may run
    longer than its TTL), and stop once the candidate was rolled back by hand."""
    lost: list[bool] = []  # one entry once the lock was found broken: warn once

    def check() -> None:
        if not records.refresh() and not lost:
            lost.append(True)
            reporter.warn(f"the lock of environment '{records.env_name}' was broken by another run (--force); "
                          "this release goes on, but that run may change the endpoint too.")
        _not_rolled_back(records, candidate, mark)

    return check


def _not_rolled_back(records: Records, candidate: str, mark: str) -> None:
    reason = records.failed_reason(mark)
    if reason is not None:
        raise GateFailed(f"version {candidate} was marked failed while this release ran ({reason}); stopping.")
