"""GitHub Actions: ``.github/workflows/agentrun.yml``.

Approval is the ``prod`` environment's required reviewers (repository settings, not YAML; on a
private repository a paid plan), or, on any plan, a release started by hand (``workflow_dispatch``
``action: release``, write access only). One production change at a time is
``concurrency: {group: prod, cancel-in-progress: false, queue: max}``: every later prod job waits
in order, none cancels a pending one. A cancelled run gets SIGINT, then SIGTERM (the release puts
100% back on stable and exits 130/143). Secrets are environment secrets, referenced as
``${{ secrets.NAME }}``; a secret's name may not start with ``GITHUB_``.
"""

from __future__ import annotations

from . import model as m
from . import oidc

PATH = ".github/workflows/agentrun.yml"

PUSH = "github.event_name == 'push'"
PROD_REF = " || ".join([f"github.ref == 'refs/heads/{b}'" for b in m.PROD_BRANCHES]
                       + [f"startsWith(github.ref, 'refs/heads/{m.HOTFIX_PREFIX}')",
                          # on.push.tags lets only v<digit> tags start the workflow
                          f"startsWith(github.ref, 'refs/tags/{m.TAG_PREFIX}')"])
DISPATCH = "github.event_name == 'workflow_dispatch'"
TAG_GLOB = m.TAG_PREFIX + "[0-9]*"


def secret_name(variable: str) -> str:
    """The secret that holds ``variable``: GitHub refuses secret names starting with ``GITHUB_``
    (and the workflow's own GITHUB_TOKEN cannot write secrets), so those get an AGENTRUN_ prefix."""
    return f"AGENTRUN_{variable}" if variable.upper().startswith("GITHUB_") else variable


def _secrets(opts: m.Options, env: str) -> dict:
    profile = opts.profile(env)
    names = (*m.secret_names(profile), m.pair_secret(profile), *m.NOTIFY_SECRETS)
    return {name: f"${{{{ secrets.{name} }}}}" for name in names}


def sink_gaps(opts: m.Options) -> list[str]:
    """The environments whose jobs could keep the old key after a rotation: the rotate job reads
    its key from ``prod-rotation``, the other prod jobs from ``prod``; a github sink writes one
    environment's secrets, or the repository's, which an environment secret of the same name
    hides (GitHub's precedence). None without github sinks."""
    written = opts.sinks.github_environments
    if not written or not opts.has("rotate"):
        return []
    readers = {"prod": ["release-prod"] * opts.has("prod") + ["rollback", "promote"] * opts.has("manual"),
               "prod-rotation": ["rotate-keys"]}
    gaps = []
    for env, jobs in readers.items():
        if not jobs or env in written:
            continue
        who = f"the {', '.join(jobs)} job{'s' * (len(jobs) > 1)}"
        they = "they" if len(jobs) > 1 else "it"
        if "" in written:
            gaps.append(f"{who} run{'s' * (len(jobs) == 1)} in the {env} environment, whose secrets hide the "
                        f"repository's that the github sink writes: with the key also stored there, {they} would "
                        f"sign with the old, deactivated key after a rotation. Keep the key's secrets out of the "
                        f"{env} environment, or add {{type: github, repo: ..., environment: {env}}} to "
                        "credentials.sinks (docs/ci.md).")
        else:
            gaps.append(f"{who} read{'s' * (len(jobs) == 1)} the prod key from the {env} environment's secrets, "
                        f"and no github sink of envs/prod.yaml writes there: after a rotation {they} would sign "
                        f"with the old, deactivated key. Add {{type: github, repo: ..., environment: {env}}} to "
                        "credentials.sinks (docs/ci.md).")
    return gaps


def _install(opts: m.Options, lock: str) -> list[dict]:
    return [
        {"uses": "actions/checkout@v5"},
        {"uses": "actions/setup-python@v6", "with": {"python-version": opts.python}},
        # setup-uv caches uv's cache keyed on the lock file (and OS, Python): a warm install links files.
        # prune-cache: false keeps the downloaded wheels the --offline install needs (by default
        # setup-uv saves only the wheels it built, and the next offline install finds nothing).
        {"uses": "astral-sh/setup-uv@v6",
         "with": {"enable-cache": True, "cache-dependency-glob": lock, "prune-cache": False}},
        {"name": "install", "run": opts.install_project(lock)},
    ]


def _job(opts: m.Options, command: str, *, when: str | None = None, env: str | None = None,
         environment: object = None, concurrency: str | None = None, needs: tuple[str, ...] = (),
         timeout: int = 30, extra_env: dict | None = None, lock: str = m.RUNTIME_LOCK) -> dict:
    job: dict = {}
    if needs:
        job["needs"] = list(needs)
    if when:
        job["if"] = when
    job["runs-on"] = "ubuntu-latest"
    if environment:
        job["environment"] = environment
    if concurrency:
        # queue: max: later runs wait in order; by default a third one cancels the pending second.
        job["concurrency"] = {"group": concurrency, "cancel-in-progress": False, "queue": "max"}
    job["timeout-minutes"] = timeout
    variables = {**m.CI_ENV, **(_secrets(opts, env) if env else {}), **(extra_env or {})}
    job["env"] = variables
    job["steps"] = [*_install(opts, lock), {"name": command.split()[1], "run": command}]
    return job


def render(opts: m.Options, command: str) -> list[m.GeneratedFile]:
    on: dict = {"push": {"branches": [m.DEV_BRANCH, *m.PROD_BRANCHES, m.HOTFIX_PREFIX + "**",
                                      *(p + "**" for p in m.PREVIEW_PREFIXES)],
                         "tags": [TAG_GLOB]},
                "pull_request": {"types": ["opened", "synchronize", "reopened", "closed"]}}
    if opts.has("manual"):
        on["workflow_dispatch"] = {"inputs": {
            "action": {"description": "what to do to prod (release: on plans without required reviewers)",
                       "required": True, "type": "choice", "options": ["release", "rollback", "promote"]},
            "to_version": {"description": "rollback: the version to send all traffic to (default: the stable one)",
                           "required": False, "type": "string", "default": ""}}}
    if opts.has("rotate"):
        on["schedule"] = [{"cron": m.WEEKLY_CRON}]
    jobs: dict = {}
    if opts.has("test"):
        # A release started by hand is tested first, like a pushed one.
        by_hand = f" || ({DISPATCH} && inputs.action == 'release')" if opts.has("manual") else ""
        jobs["test"] = _job(opts, m.TEST, timeout=60, lock=m.TEST_LOCK,
                            when="github.event_name == 'push' || (github.event_name == 'pull_request' && "
                                 "github.event.action != 'closed')" + by_hand)
    needs = ("test",) if opts.has("test") else ()
    if opts.has("dev"):
        jobs["deploy-dev"] = _job(opts, m.DEPLOY_DEV, when=f"{PUSH} && github.ref == 'refs/heads/{m.DEV_BRANCH}'",
                                  env="dev", environment="dev", concurrency="dev", needs=needs)
    if opts.has("prod") or opts.has("manual"):
        # A push releases (prod); a dispatch with action: release does too (manual), for plans
        # whose private repositories have no required reviewers (docs/ci.md).
        when = [f"({PUSH} && ({PROD_REF}))"] if opts.has("prod") else []
        when += [f"({DISPATCH} && inputs.action == 'release')"] if opts.has("manual") else []
        jobs["release-prod"] = _job(
            opts, m.RELEASE_PROD, when=" || ".join(when), env="prod", needs=needs, timeout=180,
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
        # The sinks' API tokens come from secrets of their own: the workflow's GITHUB_TOKEN cannot write secrets.
        tokens = {name: f"${{{{ secrets.{secret_name(name)} }}}}" for name in opts.sinks.tokens}
        jobs["rotate-keys"] = _job(opts, m.ROTATE, when="github.event_name == 'schedule'", env="prod",
                                   environment="prod-rotation", concurrency="prod", extra_env=tokens)
    oidc.github(jobs, opts)
    workflow = {"name": "agentrun", "on": on, "permissions": {"contents": "read"}, "jobs": jobs}
    return [m.GeneratedFile(PATH, m.header("github", command, opts) + m.dump_yaml(workflow))]
