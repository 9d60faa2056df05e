"""GitHub Actions: ``.github/workflows/agentrun.yml``.

Approval is the ``prod`` environment's required reviewers (repository settings, not YAML); one
production change at a time is ``concurrency: {group: prod, cancel-in-progress: false}``;
a cancelled run gets SIGINT, then SIGTERM (the release puts 100% back on stable and exits 130/143).
Secrets are environment secrets, referenced as ``${{ secrets.NAME }}``.
"""

from __future__ import annotations

from . import model as m
from . import oidc

PATH = ".github/workflows/agentrun.yml"

PUSH = "github.event_name == 'push'"
PROD_REF = " || ".join([f"github.ref == 'refs/heads/{b}'" for b in m.PROD_BRANCHES]
                       + [f"startsWith(github.ref, 'refs/heads/{m.HOTFIX_PREFIX}')",
                          f"startsWith(github.ref, 'refs/tags/{m.TAG_PREFIX}')"])


def _secrets(env: str) -> dict:
    names = m.secret_names(env) + m.NOTIFY_SECRETS
    return {name: "${{ secrets.%s }}" % name for name in names}


def _install(opts: m.Options) -> list[dict]:
    return [
        {"uses": "actions/checkout@v5"},
        {"uses": "actions/setup-python@v6", "with": {"python-version": opts.python}},
        # setup-uv caches uv's cache keyed on the lock file (and OS, Python): a warm install links files.
        {"uses": "astral-sh/setup-uv@v6",
         "with": {"enable-cache": True, "cache-dependency-glob": opts.lock}},
        {"name": "install", "run": opts.install_project},
    ]


def _job(opts: m.Options, command: str, *, when: str | None = None, env: str | None = None,
         environment: object = None, concurrency: str | None = None, needs: tuple[str, ...] = (),
         timeout: int = 30, extra_env: dict | None = None) -> dict:
    job: dict = {}
    if needs:
        job["needs"] = list(needs)
    if when:
        job["if"] = when
    job["runs-on"] = "ubuntu-latest"
    if environment:
        job["environment"] = environment
    if concurrency:
        job["concurrency"] = {"group": concurrency, "cancel-in-progress": False}
    job["timeout-minutes"] = timeout
    variables = {**m.CI_ENV, **(_secrets(env) if env else {}), **(extra_env or {})}
    job["env"] = variables
    job["steps"] = _install(opts) + [{"name": command.split()[1], "run": command}]
    return job


def render(opts: m.Options, command: str) -> list[m.GeneratedFile]:
    on: dict = {"push": {"branches": [m.DEV_BRANCH, *m.PROD_BRANCHES, m.HOTFIX_PREFIX + "**",
                                      *(p + "**" for p in m.PREVIEW_PREFIXES)],
                         "tags": [m.TAG_PREFIX + "*"]},
                "pull_request": {"types": ["opened", "synchronize", "reopened", "closed"]}}
    if opts.has("manual"):
        on["workflow_dispatch"] = {"inputs": {
            "action": {"description": "what to do to prod", "required": True, "type": "choice",
                       "options": ["rollback", "promote"]},
            "to_version": {"description": "rollback: the version to send all traffic to (default: the stable one)",
                           "required": False, "type": "string", "default": ""}}}
    if opts.has("rotate"):
        on["schedule"] = [{"cron": m.WEEKLY_CRON}]
    jobs: dict = {}
    if opts.has("test"):
        jobs["test"] = _job(opts, m.TEST, timeout=60, when="github.event_name == 'push' || (github.event_name == "
                            "'pull_request' && github.event.action != 'closed')")
    needs = ("test",) if opts.has("test") else ()
    if opts.has("dev"):
        jobs["deploy-dev"] = _job(opts, m.DEPLOY_DEV, when=f"{PUSH} && github.ref == 'refs/heads/{m.DEV_BRANCH}'",
                                  env="dev", environment="dev", concurrency="dev", needs=needs)
    if opts.has("prod"):
        jobs["release-prod"] = _job(
            opts, m.RELEASE_PROD, when=f"{PUSH} && ({PROD_REF})", env="prod", needs=needs, timeout=180,
            environment={"name": "prod", "url": "${{ steps.release.outputs.endpoint_url }}"}, concurrency="prod")
        jobs["release-prod"]["steps"][-1]["id"] = "release"
    if opts.has("preview"):
        open_pr = "github.event_name == 'pull_request' && github.event.action != 'closed'"
        group = "preview-${{ github.head_ref }}"
        jobs["preview"] = _job(opts, m.DEPLOY_PREVIEW, when=open_pr, env="preview", environment="preview",
                               concurrency=group, needs=needs)
        jobs["remove-preview"] = _job(opts, m.REMOVE_PREVIEW, env="preview", environment="preview",
                                      when="github.event_name == 'pull_request' && github.event.action == 'closed'",
                                      concurrency=group)
    if opts.has("manual"):
        for action, line in (("rollback", m.ROLLBACK), ("promote", m.PROMOTE)):
            jobs[action] = _job(opts, line, env="prod", environment="prod", concurrency="prod",
                                when=f"github.event_name == 'workflow_dispatch' && inputs.action == '{action}'",
                                extra_env={"TO_VERSION": "${{ inputs.to_version }}"} if action == "rollback" else None)
    if opts.has("rotate"):
        # Its own environment (restricted to main, no reviewers), so the weekly run never waits for one.
        jobs["rotate-keys"] = _job(opts, m.ROTATE, when="github.event_name == 'schedule'", env="prod",
                                   environment="prod-rotation", concurrency="prod")
    oidc.github(jobs, opts)
    workflow = {"name": "agentrun", "on": on, "permissions": {"contents": "read"}, "jobs": jobs}
    return [m.GeneratedFile(PATH, m.header("github", command, opts.lock_command) + m.dump_yaml(workflow))]
