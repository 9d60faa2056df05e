"""Bitbucket Pipelines: ``bitbucket-pipelines.yml``.

Approval is ``trigger: manual`` on the release step (someone presses Run, with the deployment
environment's permissions); one change at a time is ``concurrency-group`` on every step that
deploys (a later step queues instead of pausing on the busy deployment environment). Previews
deploy from ``feature/*`` and ``bugfix/*`` branch pipelines only, never a second time from the
pull request's pipeline. Secrets are deployment variables of the
``dev``, ``preview`` and ``prod`` environments (secured). Rollback, promote, preview removal
and key rotation are custom pipelines: run by hand (with variables) or on a schedule made in
the UI (Repository settings > Pipelines > Schedules: custom: rotate-keys, weekly, main).
"""

from __future__ import annotations

from typing import Any

from . import model as m
from . import oidc

PATH = "bitbucket-pipelines.yml"


# Bitbucket's globs have no character class: the release tag rule spelled as a brace list.
TAG_GLOB = m.TAG_PREFIX + "{{{}}}*".format(",".join("0123456789"))


def _step(opts: m.Options, name: str, command: str, **extra: Any) -> dict:
    lock = m.TEST_LOCK if command == m.TEST else m.RUNTIME_LOCK  # only the test step gets the test tools
    return {"step": {"name": name, "caches": ["uv"], **extra, "script": [*opts.install_lines(lock), command]}}


def render(opts: m.Options, command: str) -> list[m.GeneratedFile]:
    test = [_step(opts, "test", m.TEST)] if opts.has("test") else []
    branches: dict = {}
    if opts.has("dev"):
        branches[m.DEV_BRANCH] = [*test, _step(opts, "deploy dev", m.DEPLOY_DEV, deployment="dev",
                                               **{"concurrency-group": "dev"})]
    release = [_step(opts, "release prod", m.RELEASE_PROD, deployment="prod", trigger="manual",
                     **{"max-time": 180, "concurrency-group": "prod"})] if opts.has("prod") else []
    if opts.has("prod"):
        branches["{{{}}}".format(",".join(m.PROD_BRANCHES))] = test + release
        branches[m.HOTFIX_PREFIX + "*"] = test + release
    preview = [_step(opts, "preview", m.DEPLOY_PREVIEW, deployment="preview",
                     **{"concurrency-group": "preview"})] if opts.has("preview") else []
    if preview:
        branches["{{{}}}/*".format(",".join(p.rstrip("/") for p in m.PREVIEW_PREFIXES))] = test + preview
    pipelines: dict = {}
    if test:
        pipelines["default"] = test
    if branches:
        pipelines["branches"] = branches
    if release:
        pipelines["tags"] = {TAG_GLOB: test + release}
    if test:
        pipelines["pull-requests"] = {"**": test}
    custom: dict = {}
    if opts.has("manual"):
        custom["rollback"] = [{"variables": [{"name": "TO_VERSION", "default": ""}]},
                              _step(opts, "rollback prod", m.ROLLBACK, deployment="prod",
                                    **{"concurrency-group": "prod"})]
        custom["promote"] = [_step(opts, "promote prod", m.PROMOTE, deployment="prod", **{"concurrency-group": "prod"})]
    if opts.has("preview"):
        # No branch-deleted event: run this on the branch before deleting it.
        custom["remove-preview"] = [_step(opts, "remove preview", m.REMOVE_PREVIEW, deployment="preview",
                                          **{"concurrency-group": "preview"})]
    if opts.has("rotate"):
        custom["rotate-keys"] = [_step(opts, "rotate keys", m.ROTATE, deployment="prod",
                                       **{"concurrency-group": "prod"})]
    if custom:
        pipelines["custom"] = custom
    oidc.bitbucket(pipelines, opts)
    doc = {"image": f"python:{opts.python}-slim",
           "definitions": {"caches": {"uv": {"key": {"files": list(opts.locks)}, "path": "~/.cache/uv"}}},
           "pipelines": pipelines}
    return [m.GeneratedFile(PATH, m.header("bitbucket", command, opts) + m.dump_yaml(doc))]
