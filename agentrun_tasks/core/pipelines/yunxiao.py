"""Yunxiao Flow (云效): four pipelines under ``.yunxiao/``, pasted into Flow's YAML editor (or
given to the OpenAPI / ROS ``ALIYUN::DEVOPS::Pipeline``): Flow documents no file name in the
repository, and a pipeline has one code source and one trigger set, so each flow is its own
pipeline.

- ``ci.yml``: every push: tests; ``develop`` deploys to dev. Preview deploy and removal are
  manual jobs (``driven: manual``): Flow documents no merge-request variables, and its job
  conditions document only comparisons, not prefix matches.
- ``release.yml``: its code source triggers on ``main``/``master``/``hotfix/*`` pushes and
  ``v`` + digit tags (set the filters on the source's trigger in the console); the release
  waits for a ``ManualValidate`` job.
- ``manage.yml``: run by hand on ``main``: rollback and promote, each a manual job.
- ``rotate-keys.yml``: run by a timer trigger (weekly, set in the console; the grammar has no
  schedule).

One change at a time is ``concurrencyConfig.maxRunningJobInstances: 1``: a job waits while the
same job of another run is running (runs themselves are never refused: ``rejectNew`` would throw
a push or a release away). Secrets are secret (私密) pipeline variables with the library's names,
or a variable group shared by them. uv's cache is ``/root/.cache/uv``, which Flow caches
by default.
"""

from __future__ import annotations

from typing import Any

from . import model as m

RUNS_ON = "public/cn-beijing"
SOURCE = {"repo": {"type": "codeup", "name": "agentrun", "endpoint": "https://codeup.aliyun.com/<org>/<repo>.git",
                   "branch": "main", "triggerEvents": ["push"],
                   "certificate": {"type": "serviceConnection", "serviceConnection": "<service-connection-id>"}}}
# The same job of two runs waits for the other; no limit on runs (at the limit, Flow's only
# choices are to refuse the new run or cancel the oldest).
ONE_AT_A_TIME = {"maxRunningJobInstances": 1}


def _job(opts: m.Options, name: str, command: str, lock: str = m.RUNTIME_LOCK, **extra: Any) -> dict:
    steps = {"install": {"name": "install", "step": "Command", "with": {"run": "\n".join(opts.install_lines(lock))}},
             "run": {"name": command.split()[1], "step": "Command", "with": {"run": command}}}
    return {"name": name, "runsOn": RUNS_ON, **extra, "steps": steps}


def _approval(name: str) -> dict:
    return {"name": name, "component": "ManualValidate",
            "with": {"validatorType": "users", "validateMethod": "and", "validatorUsers": ["<approver-user-id>"]}}


def _pipeline(name: str, stages: dict, *, branch: str = "main", events: tuple[str, ...] = ("push",)) -> dict:
    source = {"repo": {**SOURCE["repo"], "branch": branch, "triggerEvents": list(events)}}
    if not events:  # started by a timer trigger only
        del source["repo"]["triggerEvents"]
    return {"name": name, "sources": source, "concurrencyConfig": ONE_AT_A_TIME, "stages": stages}


def render(opts: m.Options, command: str) -> list[m.GeneratedFile]:
    files: list[m.GeneratedFile] = []

    def add(path: str, doc: dict) -> None:
        files.append(m.GeneratedFile(path, m.header("yunxiao", command, opts) + m.dump_yaml(doc)))

    ci: dict = {}
    if opts.has("test"):
        ci["test"] = {"name": "test", "jobs": {"test": _job(opts, "test", m.TEST, lock=m.TEST_LOCK)}}
    deploy: dict = {}
    needs = {"needs": "test"} if opts.has("test") else {}
    if opts.has("dev"):
        deploy["deploy_dev"] = _job(opts, "deploy dev", m.DEPLOY_DEV, condition=f'"${{CI_COMMIT_REF_NAME}}" == '
                                    f'"{m.DEV_BRANCH}"', **needs)
    if opts.has("preview"):
        deploy["preview"] = _job(opts, "preview", m.DEPLOY_PREVIEW, driven="manual", **needs)
        deploy["remove_preview"] = _job(opts, "remove preview", m.REMOVE_PREVIEW, driven="manual")
    if deploy:
        ci["deploy"] = {"name": "deploy", "jobs": deploy}
    if ci:
        add(".yunxiao/ci.yml", _pipeline("agentrun-ci", ci, branch=m.DEV_BRANCH))
    if opts.has("prod"):
        release: dict = {}
        if opts.has("test"):
            release["test"] = {"name": "test", "jobs": {"test": _job(opts, "test", m.TEST, lock=m.TEST_LOCK)}}
        jobs = {"approve": {**_approval("approve release"), **needs},
                "release_prod": _job(opts, "release prod", m.RELEASE_PROD, needs="approve")}
        release["release"] = {"name": "release", "jobs": jobs}
        add(".yunxiao/release.yml", _pipeline("agentrun-release", release, events=("push", "tagPush")))
    if opts.has("manual"):
        # Its own pipeline, run by hand on main: a rollback neither re-runs the tests nor waits on a
        # release approval. A rollback is for emergencies: no approval, but only people allowed to
        # run the pipeline.
        manage = {"rollback_prod": _job(opts, "rollback prod", m.ROLLBACK, driven="manual"),
                  "promote_prod": _job(opts, "promote prod", m.PROMOTE, driven="manual")}
        add(".yunxiao/manage.yml", _pipeline("agentrun-manage", {"manage": {"name": "manage", "jobs": manage}},
                                             events=()))
    if opts.has("rotate"):
        add(".yunxiao/rotate-keys.yml", _pipeline(
            "agentrun-rotate-keys", {"rotate": {"name": "rotate keys",
                                                "jobs": {"rotate_keys": _job(opts, "rotate keys", m.ROTATE)}}},
            events=()))
    return files
