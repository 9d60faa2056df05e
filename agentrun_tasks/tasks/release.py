"""Top-level tasks of progressive delivery: ``release``, ``rollback``, ``promote``, ``history``."""

from __future__ import annotations

import json as _json
from typing import TYPE_CHECKING

from invoke import task

from ._common import ENV_HELP, JSON_HELP, YES_HELP, cli_errors, collection, version_flag, whole_number

if TYPE_CHECKING:
    from ..flows.release.by_hand import RolledBack

__all__ = ["history", "ns", "promote", "release", "rollback"]


@task(help={"env": ENV_HELP, "version": "release this published version instead of the current code",
            "strategy": "canary (default from the env file), blue-green or direct",
            "force": "take over a stale lock or an in-flight canary, or retry a version marked failed",
            "yes": YES_HELP, "json": JSON_HELP})
@cli_errors
def release(c, env=None, version=None, strategy=None, force=False, yes=False, json=False):
    """Canary the current code to the environment's endpoint with gates and automatic rollback.

    Deploys and publishes the current code as a version (or takes --version), then moves the
    release endpoint through release.steps (default 5%, 25%, 50%, 100%), analysing each step
    for release.interval: error rate and latency of the candidate against the stable version,
    from probe traffic and the endpoint's real traffic (the local emulator's request log; on the
    cloud the runtime's SLS logstore with release.real_traffic, else the probe alone). A failed
    gate sends 100% back to the stable version at once and exits 4. Killed and rerun, it
    continues from the endpoint's live weights. Another release of the environment holds a
    lock: exit 7. Acceptance checks on the candidate alone (release.checks: a prompt and what
    the answer must say, or your own command), confirm webhooks (release.webhooks) and custom
    metrics from the logstore (release.analysis.metrics) gate it too; a check that fails before
    the rollout is exit 4 with no traffic moved.
    """
    from ..core.health import client_urls
    from ..core.notify import release_event
    from ..core.results import TaskResult
    from ..flows.release.run import release as run_release
    from ..session import open_control

    version = version_flag(version, "--version", latest=False)
    session, driver = open_control(c, env, json=json, mutating=True, yes=yes)
    notifier = session.notifier()
    with notifier.finishing(failed=lambda error: release_event(session.env, session.ci, error=error)):
        # On exit 4 the --json error document carries the analysis and rollback time (GateFailed.details).
        released = run_release(session, driver, version=version, strategy=strategy, force=force)
        notifier.send(release_event(session.env, session.ci, released.to_dict()), summary=True)
        assert released.url is not None  # the rollout's endpoint writes waited for READY with a URL
        urls = client_urls(released.url, session.env.health)
        session.reporter.output("chat_url", urls["chat_url"])
        result = {**released.to_dict(), **urls}
        session.reporter.result(result, lambda r, d: r.line(
            f"version {released.candidate} serves 100% of {session.env.release.endpoint} ({released.result}); "
            f"chat: {urls['chat_url']}"))
    return TaskResult(result, url=released.url, version=released.candidate, timings=released.timings)


@task(help={"env": ENV_HELP, "to_version": "the version to send all traffic to (default: the stable one)",
            "yes": YES_HELP, "json": JSON_HELP})
@cli_errors
def rollback(c, env=None, to_version=None, yes=False, json=False):
    """Send all traffic back to the stable version now: one endpoint write, no analysis.

    With a canary in flight, its target (the stable version) takes 100% and the canary version
    is marked failed, which also stops a release still running. Without one, traffic returns to
    the version that served before the last release or promotion (which is marked failed), or to
    --to-version; right after a rollback, another one changes nothing.
    """
    from ..core.notify import by_hand_event
    from ..core.results import TaskResult
    from ..flows.release.by_hand import rollback as run_rollback
    from ..session import open_control

    to_version = version_flag(to_version, "--to-version", latest=False)
    session, driver = open_control(c, env, json=json, mutating=True, yes=yes)
    rolled = run_rollback(session, driver, to_version=to_version)
    result = rolled.to_dict()
    session.reporter.result(result, lambda r, _d: r.line(_rolled_back(rolled)))
    _announce_by_hand(session, by_hand_event(session.env, session.ci, "rollback", result))
    return TaskResult(result, url=rolled.url, version=rolled.to)


def _rolled_back(rolled: RolledBack) -> str:
    if rolled.result != "rolled-back":
        return (f"already rolled back: version {rolled.to} serves 100% since the last rollback; nothing changed "
                "(--to-version picks another version)")
    if rolled.canary:  # mid-canary the endpoint's target was already the stable version: say what stopped
        stopped = ", ".join(f"version {v} at {w:.0%}" for v, w in sorted(rolled.canary.items()))
        return f"version {rolled.to} serves 100%; the canary ({stopped}) is stopped and marked failed"
    if rolled.from_version in (None, rolled.to):
        return f"version {rolled.to} serves 100%"
    return f"version {rolled.to} serves 100% (was {rolled.from_version}, now marked failed)"


def _announce_by_hand(session, event) -> None:
    """A change by hand is announced once it is done (``event``; None when nothing changed): the
    channels are opened only then, so a broken chat robot never holds up the emergency path."""
    if event is not None:
        with session.notifier().finishing() as notifier:
            notifier.send(event, summary=True)


@task(help={"env": ENV_HELP, "yes": YES_HELP, "json": JSON_HELP})
@cli_errors
def promote(c, env=None, yes=False, json=False):
    """Skip the remaining canary steps: the version in flight takes 100% now."""
    from ..core.notify import by_hand_event
    from ..core.results import TaskResult
    from ..flows.release.by_hand import promote as run_promote
    from ..session import open_control

    session, driver = open_control(c, env, json=json, mutating=True, yes=yes)
    promoted = run_promote(session, driver)
    result = promoted.to_dict()
    session.reporter.result(result, lambda r, _d: r.line(
        f"version {promoted.to} serves 100% (was {promoted.from_version})"))
    _announce_by_hand(session, by_hand_event(session.env, session.ci, "promote", result))
    return TaskResult(result, url=promoted.url, version=promoted.to)


@task(help={"env": ENV_HELP, "limit": "show at most this many entries, newest first (default 20)", "json": JSON_HELP})
@cli_errors
def history(c, env=None, limit=None, json=False):
    """Releases, promotions and rollbacks of the environment: who, commit, versions, result."""
    from ..core.history import format_table
    from ..core.results import TaskResult
    from ..flows.records import Records
    from ..session import open_control

    limit = whole_number(limit, "--limit", default=20)
    session, _driver = open_control(c, env, json=json)  # opened as the other release tasks open it
    entries = Records.of(session).history(limit=limit)
    data = [_json.loads(entry.to_json()) for entry in entries]
    session.reporter.result(data, lambda r, _d: r.table(*format_table(entries)))
    return TaskResult({"entries": data})


ns = collection("release", release, rollback, promote, history, default=release)
