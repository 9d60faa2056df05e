"""The ``doctor`` task: is this machine and environment ready, and is its key least-privileged?"""

from __future__ import annotations

import json as _json

from invoke import task

from ._common import ENV_HELP, JSON_HELP, cli_errors, collection

__all__ = ["doctor", "ns"]


@task(help={"env": ENV_HELP, "json": JSON_HELP,
            "fix": "do what is safe: install the pinned Serverless Devs CLI into .agentrun/tools/s"})
@cli_errors
def doctor(c, env=None, json=False, fix=False):
    """Check Python, Node, s, the component cache, Docker, credentials, the emulator, the runtime, logs.

    Each check prints ok, warn, fail or skip (not needed for this environment's driver) and,
    for a warning or failure, what to do. Credentials are reported by source, never by value.
    Logs: on the cloud, one search of the runtime's SLS logstore (what invoke logs and
    release.real_traffic read) proves the project, logstore, index and access.
    Least privilege: lists the RAM policies attached to the environment's RAM user
    (credentials.ram_user, else the key's own user), flags AdministratorAccess and *FullAccess
    ones, and prints the minimal RAM policy document for deploy, release, rotate-keys and logs.
    Exit codes: 0 nothing failed (warnings allowed), 2 setup, 3 credentials, 5 the runtime failed.
    """
    from ..flows.doctor import diagnose
    from ..session import open_session

    session = open_session(c, env, json=json)
    found = diagnose(session, fix=fix)
    error = found.error()
    if error is not None:
        if not json:  # under --json a failure's one document is the error's, with every check
            session.reporter.result(found.to_dict(), _show)
        raise error
    return session.reporter.result(found.to_dict(), _show)


def _show(reporter, data: dict) -> None:
    rows = [(c["check"], c["status"] + (" (fixed)" if c["fixed"] else ""), c["detail"]) for c in data["checks"]]
    reporter.table(["check", "status", "detail"], rows)
    for check in data["checks"]:
        if check["fix"] and check["status"] in ("warn", "fail"):
            reporter.line(f"fix {check['check']}: {check['fix']}")
    reporter.line("minimal RAM policy for deploy, release, rotate-keys and logs:")
    reporter.line(_json.dumps(data["minimal_policy"], indent=2))


ns = collection("doctor", doctor, default=doctor)
