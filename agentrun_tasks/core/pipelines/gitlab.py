"""GitLab CI: ``.gitlab-ci.yml``.

Approval is ``when: manual`` with ``allow_failure: false`` (the pipeline waits) on the protected
``prod`` environment (who may deploy, and deployment approvals, are set in the project's
settings). One change at a time is ``resource_group: prod``. Secrets are CI/CD variables scoped
to an environment (``prod``, ``dev``, ``preview/*``), so a job sees only its environment's keys.
Pipeline schedules are made in the UI or API, not YAML: the rotation job runs in a schedule
whose variable ``AGENTRUN_SCHEDULE`` is ``rotate-keys``.
"""

from __future__ import annotations

from typing import Any

from . import model as m
from . import oidc

PATH = ".gitlab-ci.yml"

PUSH = '$CI_PIPELINE_SOURCE == "push"'
MR = '$CI_PIPELINE_SOURCE == "merge_request_event"'
PROD_BRANCH = " || ".join([f'$CI_COMMIT_BRANCH == "{b}"' for b in m.PROD_BRANCHES]
                          + [f"$CI_COMMIT_BRANCH =~ /^{m.HOTFIX_PREFIX.rstrip('/')}\\//"])
PROD_REF = f"{PROD_BRANCH} || $CI_COMMIT_TAG =~ /{m.TAG_REGEX}/"
DEPLOY_BRANCH = f'$CI_COMMIT_BRANCH == "{m.DEV_BRANCH}" || {PROD_BRANCH}'
PREVIEW_BRANCH = "$CI_COMMIT_BRANCH =~ /^({})\\//".format("|".join(p.rstrip("/") for p in m.PREVIEW_PREFIXES))
WEB = '$CI_PIPELINE_SOURCE == "web"'
SCHEDULE = '$CI_PIPELINE_SOURCE == "schedule" && $AGENTRUN_SCHEDULE == "rotate-keys"'


def _job(stage: str, command: str, rules: list[dict], **extra: Any) -> dict:
    return {"stage": stage, "rules": rules, **extra, "script": [command]}


def render(opts: m.Options, command: str) -> list[m.GeneratedFile]:
    doc: dict = {
        "workflow": {"rules": [
            {"if": MR},
            # Git Flow keeps develop->main and hotfix->main MRs open, and an MR pipeline has no
            # $CI_COMMIT_BRANCH: a push to a branch that deploys always gets its branch pipeline.
            {"if": f"({DEPLOY_BRANCH}) && {PUSH}"},
            # Any other branch with an open MR runs the MR pipeline only, not a second one.
            {"if": "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS && " + PUSH, "when": "never"},
            # Only release tags start a pipeline, as on the other platforms.
            {"if": "$CI_COMMIT_BRANCH"}, {"if": f"$CI_COMMIT_TAG =~ /{m.TAG_REGEX}/"}]},
        "stages": ["test", "deploy", "release", "manage"],
        "variables": {**m.CI_ENV, "UV_CACHE_DIR": "$CI_PROJECT_DIR/.uv-cache", "UV_LINK_MODE": "copy"},
        "default": {
            "image": f"python:{opts.python}-slim",
            "interruptible": False,  # a newer pipeline never cancels a running deployment
            "cache": {"key": {"files": list(opts.locks), "prefix": f"uv-py{opts.python}"}, "paths": [".uv-cache"]},
            "before_script": opts.install_lines(),
        },
    }
    dotenv = {"reports": {"dotenv": "agentrun.env"}}  # endpoint_url and version for later jobs
    if opts.has("test"):
        doc["test"] = _job("test", m.TEST, [{"if": SCHEDULE, "when": "never"}, {"if": WEB, "when": "never"},
                                            {"when": "on_success"}], interruptible=True,
                             before_script=opts.install_lines(m.TEST_LOCK))
    if opts.has("dev"):
        doc["deploy-dev"] = _job("deploy", m.DEPLOY_DEV, [{"if": f'$CI_COMMIT_BRANCH == "{m.DEV_BRANCH}" && {PUSH}'}],
                                 environment={"name": "dev"}, resource_group="dev", artifacts=dotenv)
    if opts.has("prod"):
        doc["release-prod"] = _job(
            "release", m.RELEASE_PROD,
            [{"if": f"({PROD_REF}) && {PUSH}", "when": "manual", "allow_failure": False}],
            environment={"name": "prod", "deployment_tier": "production"}, resource_group="prod",
            timeout="3h", artifacts=dotenv)
    if opts.has("preview"):
        rules = [{"if": MR}, {"if": f"{PREVIEW_BRANCH} && {PUSH}"}]
        name = "preview/$CI_COMMIT_REF_SLUG"
        doc["preview"] = _job("deploy", m.DEPLOY_PREVIEW, rules, resource_group=name, artifacts=dotenv,
                              environment={"name": name, "on_stop": "remove-preview", "auto_stop_in": "1 week",
                                           "deployment_tier": "development"})
        # Runs when the branch is deleted (or the MR merged with "delete source branch"), after a week
        # without pushes, or by hand.
        doc["remove-preview"] = _job("deploy", m.REMOVE_PREVIEW, [{**r, "when": "manual"} for r in rules],
                                     resource_group=name, allow_failure=True,
                                     environment={"name": name, "action": "stop"})
    if opts.has("manual"):
        # Run pipeline (web) on main, then press play on the job; "Run job with variables" sets TO_VERSION.
        for action, line in (("rollback-prod", m.ROLLBACK), ("promote-prod", m.PROMOTE)):
            doc[action] = _job("manage", line, [{"if": f"{WEB} && $CI_COMMIT_BRANCH", "when": "manual"}],
                               environment={"name": "prod", "deployment_tier": "production"},
                               resource_group="prod", allow_failure=True)
    if opts.has("rotate"):
        # action: access reads the prod-scoped variables without counting as a deployment, so no
        # deployment approval holds the weekly run.
        doc["rotate-keys"] = _job("manage", m.ROTATE, [{"if": SCHEDULE}], resource_group="prod",
                                  environment={"name": "prod", "action": "access"})
    oidc.gitlab(doc, opts)
    return [m.GeneratedFile(PATH, m.header("gitlab", command, opts) + m.dump_yaml(doc))]
