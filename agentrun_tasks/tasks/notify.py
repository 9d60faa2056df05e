"""``invoke notify``: a message to the environment's notification channels from any pipeline step."""

from __future__ import annotations

from invoke import task

from ._common import ENV_HELP, JSON_HELP, cli_errors, collection

__all__ = ["notify", "ns"]

_KINDS = {"success": "pipeline.succeeded", "failure": "pipeline.failed"}


@task(help={"env": ENV_HELP, "json": JSON_HELP,
            "status": "success or failure: the result of your pipeline step",
            "message": "the text to send with --status",
            "test": "send a test message to every channel (whatever its on:) and report each result"})
@cli_errors
def notify(c, env=None, status=None, message=None, test=False, json=False):
    """Send a message to the environment's notification channels (notify.channels in envs/<env>.yaml).

    --status success|failure --message TEXT reports a custom pipeline step, to the channels whose
    on: includes it (success / failure, or pipeline.succeeded / pipeline.failed). A channel that
    cannot be reached is a warning; a required: true one makes the task exit 5.
    An environment without channels sends nothing (exit 0). --test sends a test message to every
    channel, prints one line per channel and exits 5 if any failed (2 if there are none).
    Channels without required: true never fail a deploy or a release.
    """
    from ..core.errors import ConfigError, ResourceFailedError
    from ..core.notify import TEST, event_from_ci
    from ..session import open_session

    if test == (status is not None):
        raise ConfigError("pass either --test, or --status success|failure (with --message TEXT).")
    if status is not None and status not in _KINDS:
        raise ConfigError(f"--status {status!r} is not one of: success, failure.")
    session = open_session(c, env, json=json)
    if not session.env.notify.channels:
        where = (f"{session.env.path.name} names no notification channels: add notify: {{channels: "
                 "[{type: slack, webhook: \"${env('SLACK_WEBHOOK')}\"}]}} (see `invoke --help notify`)")
        if test:
            raise ConfigError(where + ".")
        # One pipeline file serves every environment: one without channels is not an error.
        return session.reporter.result({"sent": []}, lambda r, d: r.line(where + "; nothing sent."))
    notifier = session.notifier()
    notifier.send(event_from_ci(TEST if test else _KINDS[status], session.env, session.ci, reason=message or ""))
    results = notifier.wait() if test else notifier.finish()
    types = {cfg.name: cfg.type for cfg, _channel in notifier.channels}
    data = {"sent": [{**r.to_dict(), "type": types[r.channel]} for r in results]}
    result = session.reporter.result(data, lambda r, d: r.table(
        ["channel", "type", "result", "attempts", "seconds", "detail"],
        [[s["channel"], s["type"], "ok" if s["ok"] else "failed", s["attempts"], f"{s['seconds']:.2f}", s["detail"]]
         for s in d["sent"]]))
    failed = [r.channel for r in results if not r.ok]
    if test and failed:
        raise ResourceFailedError(f"the test message did not reach {', '.join(failed)} (see above).")
    return result


ns = collection("notify", notify, default=notify)
