"""CircleCI: ``.circleci/config.yml``.

Approval is an ``type: approval`` job the release requires; one change at a time is
``serial-group`` on every job that changes prod. A serial group runs pipelines in order and
skips a job of an older pipeline that arrives after a newer one: that is right only when the
newer one contains the older, so releases are grouped per ref (a newer push to the same branch
supersedes), and rollback, promote and rotation each have their own group; two prod changes
from different groups meet the library's own lock (exit 7, a red job to rerun, never a skip).
Secrets are contexts (``agentrun-dev``, ``agentrun-prod``; restrict the prod one to a security
group). Rollback, promote and preview removal are pipelines triggered with the ``action``
parameter (API or "Trigger Pipeline"); the weekly rotation is a schedule trigger named
``rotate-keys`` (project settings, not YAML).
"""

from __future__ import annotations

from . import model as m

PATH = ".circleci/config.yml"
SERIAL = "<< pipeline.project.slug >>/prod-"
RELEASE_SERIAL = SERIAL + "release-<< pipeline.git.branch >><< pipeline.git.tag >>"
ACTION = "<< pipeline.parameters.action >>"
SCHEDULED = {"equal": ["scheduled_pipeline", "<< pipeline.trigger_source >>"]}
RELEASE_TAGS = {"tags": {"only": f"/{m.TAG_REGEX}.*/"}}  # CircleCI builds no tag a job does not name
PROD_FILTERS = {"branches": {"only": [*m.PROD_BRANCHES, f"/{m.HOTFIX_PREFIX.rstrip('/')}\\/.*/"]}, **RELEASE_TAGS}


def _context(env: str) -> str:
    return "agentrun-prod" if env == "prod" else "agentrun-dev"


def _job(command: str, extra_env: dict | None = None, install: str = "install") -> dict:
    return {"executor": "python", "environment": {**m.CI_ENV, **(extra_env or {})},
            "steps": [install, {"run": {"name": command.split()[1], "command": command}}]}


def _install(opts: m.Options, lock: str) -> dict:
    """Checkout and the install from ``lock``, with uv's cache keyed on it; the fallback key
    restores the newest cache of any lock, so a changed lock downloads only what changed."""
    prefix = f"uv-py{opts.python}-{lock}-"
    key = prefix + f"{{{{ checksum \"{lock}\" }}}}"
    return {"steps": [
        "checkout",
        {"restore_cache": {"keys": [key, prefix]}},
        {"run": {"name": "install", "command": "\n".join(opts.install_lines(lock))}},
        {"save_cache": {"key": key, "paths": ["~/.cache/uv"]}},
    ]}


def _manual_workflow(action: str, job: str, env: str, approve: bool) -> dict:
    jobs: list = []
    if approve:
        jobs.append({f"approve-{action}": {"type": "approval"}})
    spec: dict = {"context": _context(env)}
    if approve:
        spec["requires"] = [f"approve-{action}"]
    if env == "prod":
        spec["serial-group"] = SERIAL + action
    jobs.append({job: spec})
    return {"when": {"equal": [action, ACTION]}, "jobs": jobs}


def render(opts: m.Options, command: str) -> list[m.GeneratedFile]:
    actions = ["pipeline"]
    jobs: dict = {}
    flow: list = []
    if opts.has("test"):
        jobs["test"] = _job(m.TEST, install="install-test")
        flow.append({"test": {"filters": RELEASE_TAGS}})
    needs = ["test"] if opts.has("test") else []
    if opts.has("dev"):
        jobs["deploy-dev"] = _job(m.DEPLOY_DEV)
        flow.append({"deploy-dev": {"requires": needs, "context": "agentrun-dev",
                                    "filters": {"branches": {"only": m.DEV_BRANCH}}}})
    if opts.has("prod"):
        jobs["release-prod"] = _job(m.RELEASE_PROD)
        flow.append({"approve-release": {"type": "approval", "requires": needs, "filters": PROD_FILTERS}})
        flow.append({"release-prod": {"requires": ["approve-release"], "context": "agentrun-prod",
                                      "serial-group": RELEASE_SERIAL, "filters": PROD_FILTERS}})
    if opts.has("preview"):
        jobs["preview"] = _job(m.DEPLOY_PREVIEW)
        jobs["remove-preview"] = _job(m.REMOVE_PREVIEW)
        pattern = "|".join(p.rstrip("/") for p in m.PREVIEW_PREFIXES)
        flow.append({"preview": {"requires": needs, "context": "agentrun-dev",
                                 "filters": {"branches": {"only": f"/({pattern})\\/.*/"}}}})
        actions.append("remove-preview")
    workflows: dict = {"pipeline": {"when": {"and": [{"equal": ["pipeline", ACTION]}, {"not": SCHEDULED}]},
                                    "jobs": flow}}
    if opts.has("preview"):
        workflows["remove-preview"] = _manual_workflow("remove-preview", "remove-preview", "preview", approve=False)
    if opts.has("manual"):
        jobs["rollback-prod"] = _job(m.ROLLBACK, {"TO_VERSION": "<< pipeline.parameters.to_version >>"})
        jobs["promote-prod"] = _job(m.PROMOTE)
        workflows["rollback"] = _manual_workflow("rollback", "rollback-prod", "prod", approve=True)
        workflows["promote"] = _manual_workflow("promote", "promote-prod", "prod", approve=True)
        actions += ["rollback", "promote"]
    if opts.has("rotate"):
        jobs["rotate-keys"] = _job(m.ROTATE)
        workflows["rotate-keys"] = {
            "when": {"and": [SCHEDULED, {"equal": ["rotate-keys", "<< pipeline.schedule.name >>"]}]},
            "jobs": [{"rotate-keys": {"context": "agentrun-prod", "serial-group": SERIAL + "rotate-keys"}}]}
    doc = {
        "version": 2.1,
        "parameters": {
            "action": {"type": "enum", "enum": actions, "default": "pipeline",
                       "description": "pipeline: test and deploy the branch; the others act on their own"},
            "to_version": {"type": "string", "default": "",
                           "description": "rollback: the version to send all traffic to (default: the stable one)"},
        },
        "executors": {"python": {"docker": [{"image": f"cimg/python:{opts.python}"}]}},
        "commands": {"install": _install(opts, m.RUNTIME_LOCK),
                     **({"install-test": _install(opts, m.TEST_LOCK)} if opts.has("test") else {})},
        "jobs": jobs,
        "workflows": workflows,
    }
    return [m.GeneratedFile(PATH, m.header("circleci", command, opts) + m.dump_yaml(doc))]
