"""Tasks of the ``ci`` namespace: what the library sees of the CI platform it runs on."""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, task

from ..core import cienv
from ..core.errors import ConfigError
from ..core.report import Reporter
from ._common import ENV_HELP, JSON_HELP, cli_errors, open_context


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
    Also says whether that environment's protection (protect.branches, PR/MR builds) would let
    this build change it. Reads no credentials and changes nothing; exits 2 when no environment
    can be chosen.
    """
    ctx = open_context(c, json=json)
    ci = ctx.ci
    try:
        name, reason = cienv.choose_env(ci, explicit=env, branch_map=ctx.branch_map)
        error = None
    except ConfigError as exc:
        name, reason, error = None, None, exc
    data = {**ci.to_dict(), "env": name, "reason": reason, "error": str(error) if error else None,
            "protection": _protection(ctx.root, name, ci, ctx.environ) if name else None}
    ctx.reporter.result(data, human=_show)
    if error is not None:
        raise error


def _protection(root: Path, name: str, ci: cienv.CIContext, environ: dict) -> dict:
    """Would a mutating task be allowed here? ``allowed`` is None when the env file cannot load."""
    from ..core import config, protect

    try:
        cfg = config.load_env(name, root=root, environ=environ, context=ci.template_context())
    except ConfigError as exc:
        return {"allowed": None, "detail": f"cannot load envs/{name}.yaml: {exc}"}
    try:
        protect.check(cfg, ci)
    except ConfigError as exc:
        return {"allowed": False, "detail": f"refused: {exc}"}
    asks = protect.needs_confirmation(cfg, ci, yes=False)
    return {"allowed": True, "detail": "asks for confirmation (--yes skips)" if asks else "allowed"}


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
        ("protection", (data["protection"] or {}).get("detail")),
    ]
    for label, value in rows:
        reporter.line(f"{label:<13} {value if value not in (None, '') else '-'}")


ns = Collection("ci")
ns.add_task(env_)
