"""Tasks of the ``ci`` namespace: what the library sees of the CI platform it runs on."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import task
from invoke.exceptions import Exit
from invoke.runners import normalize_hide

from ..core.errors import ConfigError
from ._common import ENV_HELP, JSON_HELP, cli_errors, collection

if TYPE_CHECKING:
    from ..core import cienv
    from ..core.report import Reporter

__all__ = ["env_", "init", "ns", "test_"]


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
    from ..core import cienv
    from ..session import open_context

    ctx = open_context(c, json=json)
    ci = ctx.ci
    try:
        name, reason = cienv.choose_env(ci, explicit=env, branch_map=ctx.branch_map)
        error = None
    except ConfigError as exc:
        name, reason, error = None, None, exc
    data = {**ci.to_dict(), "env": name, "reason": reason, "error": str(error) if error else None,
            "protection": _protection(ctx.root, name, ci, ctx.environ) if name else None}
    if error is None:
        return ctx.reporter.result(data, human=_show)
    if not json:
        _show(ctx.reporter, data)
    raise _Undecided(error, data)  # under --json, what was detected rides in the one error document


class _Undecided(ConfigError):
    """No environment could be chosen: the ConfigError, with what was detected as its details."""

    def __init__(self, error: ConfigError, data: dict) -> None:
        super().__init__(str(error), hint=error.hint)
        self._data = data

    @property
    def details(self) -> dict:
        return self._data


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


PLATFORM_HELP = "github, gitlab, jenkins, yunxiao, bitbucket or circleci"


@task(help={"platform": PLATFORM_HELP,
            "out": "the directory to write into (default: the project root)",
            "force": "overwrite files that exist",
            "check": "write nothing; exit 2 if a committed file differs from what would be generated",
            "jobs": "comma-separated job groups: test, dev, prod, preview, manual, rotate (default: all)",
            "python": "the Python version the jobs run (default 3.12)"})
@cli_errors
def init(c, platform=None, out=None, force=False, check=False, jobs=None, python=None):
    """Write a complete CI pipeline for a platform: every step after the install is one invoke line.

    Tests on every push and PR/MR; develop deploys to dev; main, master, hotfix/* and v* tags
    release to prod behind the platform's approval and one-at-a-time control; a preview runtime
    per feature branch or PR (removed when it closes, where the platform says so); manual
    rollback and promote; a weekly `invoke rotate-keys --min-age 90d` given the API tokens
    envs/prod.yaml's credentials.sinks read. Jobs install with uv from requirements.lock (the
    test job from requirements-test.lock); make them with the commands in the file's header.
    Environments whose env file sets credentials.oidc get the OIDC form (GitHub `permissions:
    id-token: write` on their jobs only, GitLab `id_tokens:`, Bitbucket `oidc: true`) and no
    AccessKey secrets; with an OIDC prod there is no key to rotate, so no rotate-keys job.
    An existing file is never overwritten without --force (exit 2); --check compares instead
    and exits 2 naming each file that is out of date, and each file the install step reads
    (lock files, pyproject.toml) that the project lacks. docs/ci.md: secrets, approvals, schedules.
    """
    from ..core import fileio, pipelines
    from ..flows import ci as ci_flow
    from ..session import open_context

    if not platform:
        raise ConfigError(f"--platform is required: {PLATFORM_HELP}.")
    ctx = open_context(c)
    options = pipelines.project_options(ctx.root, jobs=jobs, python=python)
    command = pipelines.command_line(platform, options)
    files = pipelines.render(platform, options, command)
    root = Path(out) if out else ctx.root
    missing = ci_flow.missing_inputs(ctx.root, files)
    make = f"Make them with `{'` and `'.join(ci_flow.lock_commands())}` (pyproject.toml: `agentrun-tasks init`)"
    if check:
        stale = [s for f in files if (s := pipelines.out_of_date(f, _read(root / f.path))) is not None]
        if missing:
            stale.append(f"its install step reads {', '.join(missing)}, which the project lacks")
        if stale:
            raise ConfigError(f"the {platform} pipeline is out of date: {'; '.join(stale)}. "
                              + (f"{make}. " if missing else "")
                              + (f"Run `{command} --force` to regenerate it." if len(stale) > bool(missing) else ""))
        ctx.reporter.line(f"up to date: {', '.join(f.path for f in files)} (and the files its install step reads)")
        return
    existing = [f.path for f in files if (root / f.path).exists()]
    if existing and not force:
        raise ConfigError(f"{', '.join(str(root / p) for p in existing)} exists already; nothing was written. "
                          f"Pass --force to overwrite it, or --check to compare.")
    for f in files:
        target = root / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        fileio.write_atomic(target, f.text.encode("utf-8"), mode=0o644)
        ctx.reporter.line(f"wrote {target}")
    for gap in pipelines.warnings(platform, options):
        ctx.reporter.warn(gap)
    if missing:
        ctx.reporter.warn(f"the install step reads {', '.join(missing)}, which the project lacks: the pipeline "
                          f"would fail at its first step. {make}.")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


@task(name="test")
@cli_errors
def test_(c):
    """Run the project's tests: invoke config 'ci.test_command' (default: python -m pytest -q).

    The generated pipelines call this, so a project chooses its test command in invoke.yaml
    (this repository: bash .ci/run) and every platform runs the same one. Exits with its code.
    """
    from ..flows import ci as ci_flow

    line = (c.config.get("ci") or {}).get("test_command") or ci_flow.DEFAULT_TEST_COMMAND
    run = c.config.run  # invoke's --echo, --dry, --hide and run.shell/env, as c.run honoured them
    if run.echo or run.dry:
        print(run.echo_format.format(command=line))
    if run.dry:
        return
    hidden = normalize_hide(run.hide)
    code = ci_flow.run_tests(line, shell=run.shell, env=run.env if run.replace_env else {**os.environ, **run.env},
                             out=None if "stdout" in hidden else sys.stdout,
                             err=None if "stderr" in hidden else sys.stderr)
    if code:
        raise Exit(code=code)


ns = collection("ci", env_, init, test_, config={"ci": {"test_command": None}})
