"""Tasks of the ``ci`` namespace: what the library sees of the CI platform it runs on."""

from __future__ import annotations

import os

from invoke import Collection, task

from ..core import cienv
from ..core.errors import ConfigError
from ..core.report import Reporter, dialect_for
from ._common import ENV_HELP, JSON_HELP, cli_errors, project_root


@task(name="env", help={"env": ENV_HELP, "json": JSON_HELP})
@cli_errors
def env_(c, env=None, json=False):
    """Show the detected CI platform, branch, tag, commit and PR, and the environment they select.

    Detects GitHub Actions, GitLab CI, Jenkins, Bitbucket, CircleCI, Yunxiao Flow, Azure
    Pipelines, Buildkite, any other CI that sets CI=true, and a laptop (branch and commit read
    from .git). On a laptop the environment defaults to 'local'; in CI the branch is mapped with
    the Git-Flow map (main/master/hotfix/* -> prod, develop/release/* -> dev, feature/*,
    bugfix/* -> preview, tags v1.2.3 -> prod) or with invoke config 'agentrun.branch_map'
    (fnmatch pattern -> env; tags as 'tag:v*'). A PR/MR build never maps to prod.
    Reads no credentials and changes nothing; exits 2 when no environment can be chosen.
    """
    environ = dict(os.environ)
    ci = cienv.detect(environ, cwd=project_root(c))
    reporter = Reporter(json_mode=json, dialect=dialect_for(ci.platform, environ))
    branch_map = (c.config.get("agentrun") or {}).get("branch_map")
    try:
        name, reason = cienv.choose_env(ci, explicit=env, branch_map=branch_map)
        error = None
    except ConfigError as exc:
        name, reason, error = None, None, exc
    reporter.result({**ci.to_dict(), "env": name, "reason": reason, "error": str(error) if error else None},
                    human=_show)
    if error is not None:
        raise error


def _show(reporter: Reporter, data: dict) -> None:
    pr = None
    if data["is_pr"]:
        pr = f"#{data['pr_number'] or '?'}" + (f" -> {data['pr_target']}" if data["pr_target"] else "")
    rows = [
        ("platform", f"{data['platform']} ({'CI' if data['is_ci'] else 'not CI'})"),
        ("branch", data["branch"]),
        ("tag", data["tag"]),
        ("read from", data["source"]),
        ("commit", data["sha"]),
        ("actor", data["actor"]),
        ("run", data["run_url"]),
        ("pull request", pr),
        ("environment", data["env"] or "(none)"),
        ("why", data["reason"] or "see the error below"),
    ]
    for label, value in rows:
        reporter.line(f"{label:<13} {value if value not in (None, '') else '-'}")


ns = Collection("ci")
ns.add_task(env_)
