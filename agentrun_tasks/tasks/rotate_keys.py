"""``invoke rotate-keys``: the scheduled AccessKey rotation that can be killed at any step."""

from __future__ import annotations

from invoke import task

from ..core.errors import ConfigError
from ._common import ENV_HELP, JSON_HELP, YES_HELP, cli_errors, collection

__all__ = ["ns", "rotate_keys"]


@task(name="rotate-keys", help={
    "env": ENV_HELP, "json": JSON_HELP, "yes": YES_HELP,
    "dry_run": "print the plan (after checking every sink is writable) and change nothing",
    "min_age": "leave a key younger than this alone and exit 0, e.g. 90d (makes a weekly schedule safe)",
    "grace": "keep the old key active this long after every sink has the new one (default: the env's "
             "deploy_timeout, so a deploy that started with it finishes; 0s on the embedded emulator)",
    "delete_after": "delete the deactivated old key this long after deactivation (default: on the next run)",
    "force": "delete an unknown second key of the RAM user instead of stopping",
    "verify_timeout": "how long to wait for a new key to work (RAM propagation), default 60s",
})
@cli_errors
def rotate_keys(c, env=None, dry_run=False, min_age=None, grace=None, delete_after=None, force=False,
                verify_timeout=None, yes=False, json=False):
    """Rotate the environment's RAM AccessKey and write the new one to every sink.

    Steps: check every sink in credentials.sinks is writable and the RAM user's keys are
    understood (a second key no rotation journal records stops the run unless --force; a key the
    run signs with or a readable sink holds is never deleted); create one new key; verify it with
    STS GetCallerIdentity (polling while RAM propagates it; on failure it is deleted and the old
    key kept); write it to every sink (one request each: a job never reads half a pair) and read
    it back where the sink allows; after --grace deactivate the old key; delete it on the next run
    (or --delete-after later; until then re-enabling it in RAM rolls back). A journal in the release
    state store lets any rerun resume; one rotation per RAM user runs at a time (exit 7 otherwise).

    The RAM user is credentials.ram_user, else the user owning the environment's key. Without
    credentials.sinks the key goes back where it came from (the .env file or keyring entry).
    Key ids print as ****abcd; secrets never print. Exit codes: 2 bad input (unknown sink type,
    missing RAM user, a sink that cannot be written, an unrecorded second key, an edited journal),
    3 credentials (a missing or refused sink token, a new key that does not work), 5 platform
    failure (the journal's new key gone from RAM), 7 busy (another rotation runs).
    """
    from ..core.notify import ROTATION_DONE, ROTATION_FAILED, event_from_ci, failure_reason
    from ..core.rotation import Options, default_grace
    from ..flows.rotation_session import refuse_roles, rotate_session
    from ..session import open_session

    # Flags first: a bad one is exit 2 before any environment is opened.
    grace, min_age, delete_after = (_duration(grace, "--grace"), _duration(min_age, "--min-age"),
                                    _duration(delete_after, "--delete-after"))
    timeout = _duration(verify_timeout, "--verify-timeout") or 60.0
    session = open_session(c, env, json=json, mutating=not dry_run, yes=yes)
    refuse_roles(session)
    options = Options(min_age=min_age, grace=default_grace(session.env) if grace is None else grace,
                      delete_after=delete_after, force=force)

    def run():
        return rotate_session(session, options, dry_run=dry_run, verify_timeout=timeout,
                              reopened=lambda: open_session(c, env, json=True, mutating=False).state_store())

    def event(kind, reason):
        return event_from_ci(kind, session.env, session.ci, reason=reason)

    if dry_run:  # a plan changes nothing: nothing to announce
        outcome = run()
    else:
        notifier = session.notifier()
        # A scheduled job's failure is announced, whatever stopped it (a sink token gone stale, ...);
        # the CI summary is the outcome's table below, not the event.
        with notifier.finishing(failed=lambda error: event(ROTATION_FAILED, failure_reason(error)), summary=False):
            outcome = run()
            if outcome.result == "rotated":
                notifier.send(event(ROTATION_DONE, outcome.message))
    session.reporter.summary(outcome.summary(session.env.name))
    return session.reporter.result({"env": session.env.name, **outcome.to_dict()}, _show)


def _show(reporter, data) -> None:
    if data["result"] == "planned":  # a run printed its steps as it took them; a plan lists them here
        for step in data["steps"]:
            if not step.endswith(data["message"]):  # the resting point is the line below
                reporter.line(f"  {step}")
    reporter.line(f"{data['result']}: {data['message']}")
    keys = [f"{label} key {data[f'{label}_key']}" for label in ("old", "new") if data[f"{label}_key"] != "-"]
    if keys:
        reporter.line(", ".join(keys))


def _duration(value, flag: str) -> float | None:
    from ..core.config import parse_duration  # imported when used: `invoke --list` stays fast

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ConfigError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


ns = collection("rotate-keys", rotate_keys, default=rotate_keys)
