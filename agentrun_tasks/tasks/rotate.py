"""``invoke rotate-keys``: the scheduled AccessKey rotation that can be killed at any step."""

from __future__ import annotations

from invoke import task

from ..core.errors import ConfigError
from ._common import ENV_HELP, JSON_HELP, YES_HELP, cli_errors, collection


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
    from ..core.errors import CredentialError
    from ..core.rotation import Options, default_grace
    from ..flows.rotate import Rotation, plan, rotate
    from ..session import open_session

    # Flags first: a bad one is exit 2 before any environment is opened.
    grace, min_age, delete_after = (_duration(grace, "--grace"), _duration(min_age, "--min-age"),
                                    _duration(delete_after, "--delete-after"))
    timeout = _duration(verify_timeout, "--verify-timeout") or 60.0
    session = open_session(c, env, json=json, mutating=not dry_run, yes=yes)
    _refuse_roles(session)
    options = Options(min_age=min_age, grace=default_grace(session.env) if grace is None else grace,
                      delete_after=delete_after, force=force)
    try:  # a scheduled job's failure is announced, whatever stopped it (a sink token gone stale, ...)
        ram = session.ram_keys()
        try:
            user = session.env.credentials.ram_user or ram.caller_user()
            ram.require_user(user)
        except CredentialError as refused:  # a key another rotation has just deactivated: that run's doing?
            busy = _running_elsewhere(c, env, session)
            if busy is not None:
                raise busy from None
            if ".Inactive" in str(refused):
                raise CredentialError(f"{refused} This environment's key is inactive: a rotation deactivates the old "
                                      "key once every sink has the new one. If one is running, wait for it; "
                                      "otherwise use the new key the sinks hold.") from None
            raise
        run = Rotation(user=user, ram=ram, store=session.state_store(), sinks=session.sinks(),
                       credentials=session.credentials(), ci=session.ci, reporter=session.reporter, options=options,
                       verify_timeout=timeout, rekey=session.use_key)
        outcome = plan(run) if dry_run else rotate(run)
    except Exception as exc:
        if not dry_run:
            _announce(session, "rotation.failed", str(exc), exc)
        raise
    if outcome.result == "rotated":
        _announce(session, "rotation.done", outcome.message, None)
    session.reporter.summary(outcome.summary(session.env.name))
    return session.reporter.result({"env": session.env.name, **outcome.to_dict()}, _show)


def _running_elsewhere(c, env, session):
    """The BusyError of a rotation that holds this environment's RAM user now, if the state store
    can still be read: with the key the environment resolves *now* (a rotation that has written
    ``.env.<env>`` or the keyring already), else with the one this run started with."""
    from datetime import datetime, timezone

    from ..core.errors import AgentrunTasksError
    from ..flows.rotate import rotation_running
    from ..session import open_session

    for opened in (lambda: open_session(c, env, json=True, mutating=False), lambda: session):
        try:
            found = rotation_running(opened().state_store(), datetime.now(timezone.utc), session.ci)
        except AgentrunTasksError:
            continue
        if found is not None:
            return found
    return None


def _announce(session, kind: str, reason: str, error) -> None:
    """A notification of the rotation's outcome to the environment's channels, if it has any."""
    if not session.env.notify.channels:
        return
    from ..core.notify import event_from_ci

    notifier = session.notifier()
    notifier.send(event_from_ci(kind, session.env, session.ci, reason=reason))
    notifier.finish(error)


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


def _refuse_roles(session) -> None:
    """A role's credentials are temporary: nothing to rotate here (exit 2, nothing changed)."""
    from ..core.errors import ConfigError
    from ..core.federation import plan as role_plan

    role = role_plan(session.env, session.ci, session.environ)
    if role is None:
        return
    if role.provider_arn:
        why = "it holds no AccessKey: its OIDC token is exchanged for temporary credentials on each run"
    else:
        why = "its key only assumes the role; rotate that key with an environment that uses it directly"
    raise ConfigError(f"Environment '{session.env.name}' assumes {role.role_arn} ({role.origin}), so there is "
                      f"nothing to rotate: {why}. Nothing was changed.")


ns = collection("rotate", rotate_keys, default=rotate_keys)
