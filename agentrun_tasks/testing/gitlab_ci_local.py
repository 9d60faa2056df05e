"""The generated ``.gitlab-ci.yml`` under ``gitlab-ci-local`` (firecow/gitlab-ci-local), a second
opinion on which jobs GitLab creates, next to :mod:`.pipeline_eval`'s own reading.

``ensure()`` npm-installs the pinned version into a cache folder
(``$AGENTRUN_TASKS_GCL_CACHE``, else ``~/.cache/agentrun-tasks/gitlab-ci-local/<version>``) unless
it is there; ``.ci/run`` runs this module (``python3 -m agentrun_tasks.testing.gitlab_ci_local``),
which checks the develop and MR cases and leaves the tool cached for the tests.

gitlab-ci-local evaluates job ``rules:`` but uses ``workflow:rules`` only for their variables,
so the workflow's rules are also given to it as the rules of one extra job: GitLab applies both
the same way (the first rule that matches decides; ``when: never`` means no pipeline / no job).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from filelock import FileLock

from ..adapters import command
from ..core.pipelines import Options, command_line, render
from ..core.pipelines.model import dump_yaml
from . import pipeline_eval

__all__ = ["CASES", "VERSION", "binary", "ensure", "gitlab_variables", "jobs", "main"]

# 4.74 and later need Node 22 (Set.prototype.union); Node 20 is what CI machines here have.
VERSION = "4.72.0"
CACHE_ENV = "AGENTRUN_TASKS_GCL_CACHE"
WORKFLOW_JOB = "agentrun-workflow"  # the extra job that carries workflow:rules


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    configured = environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "agentrun-tasks" / "gitlab-ci-local" / VERSION


def binary(environ: Mapping[str, str] = os.environ) -> Path:
    return cache_dir(environ) / "node_modules" / ".bin" / "gitlab-ci-local"


def ensure(environ: Mapping[str, str] = os.environ) -> Path:
    """The cached binary, installed first if missing (several processes may ask at once)."""
    cache = cache_dir(environ)
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / ".install.lock")):
        if not binary(environ).exists():
            done = command.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--no-save",
                                f"gitlab-ci-local@{VERSION}"], timeout=600)
            if done.returncode != 0:
                raise RuntimeError(f"`{done.command}` failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return binary(environ)


def _git(repo: Path, *args: str) -> None:
    done = command.run(["git", "-C", str(repo), *args], env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if done.returncode != 0:
        raise RuntimeError(f"`{done.command}` failed: {done.stderr}")


def gitlab_variables(event: pipeline_eval.Event) -> tuple[list[str], list[str]]:
    """``--variable`` and ``--unset-variable`` values that make gitlab-ci-local see ``event``
    (it sets the push-pipeline variables of the checked-out branch itself)."""
    wanted = pipeline_eval.gitlab_variables(event)
    unset = [] if "CI_COMMIT_BRANCH" in wanted else ["CI_COMMIT_BRANCH"]
    return [f"{k}={v}" for k, v in wanted.items() if k != "CI_COMMIT_REF_NAME"], unset


def jobs(tool: Path, gitlab_ci: str, event: pipeline_eval.Event, work: Path) -> dict[str, str] | None:
    """``{job: when}`` of the jobs gitlab-ci-local would create for ``event``; None when the
    workflow's rules create no pipeline."""
    from ruamel.yaml import YAML

    doc = YAML(typ="safe", pure=True).load(gitlab_ci)
    doc[WORKFLOW_JOB] = {"stage": doc["stages"][0], "rules": doc["workflow"]["rules"], "script": ["true"]}
    repo = Path(tempfile.mkdtemp(prefix=event.ref.replace("/", "-") + "-", dir=work))
    (repo / ".gitlab-ci.yml").write_text(dump_yaml(doc), encoding="utf-8")
    _git(repo, "init", "-q", "-b", event.ref)
    _git(repo, "-c", "user.email=ci@example.invalid", "-c", "user.name=ci", "commit", "-q", "--allow-empty", "-m", "x")
    _git(repo, "add", ".gitlab-ci.yml")
    _git(repo, "-c", "user.email=ci@example.invalid", "-c", "user.name=ci", "commit", "-q", "-m", "pipeline")
    _git(repo, "remote", "add", "origin", "https://gitlab.example.invalid/acme/app.git")
    _git(repo, "update-ref", f"refs/remotes/origin/{event.ref}", "HEAD")
    _git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", f"refs/remotes/origin/{event.ref}")
    variables, unset = gitlab_variables(event)
    # The schema is check-jsonschema's job in the tests; here only the rules matter (1 s less a call).
    argv = [str(tool), "--list-json", "--no-json-schema-validation", "--ignore-predefined-vars",
            "CI_PIPELINE_SOURCE,CI_COMMIT_BRANCH,CI_OPEN_MERGE_REQUESTS"]
    for value in variables:
        argv += ["--variable", value]
    for name in unset:
        argv += ["--unset-variable", name]
    done = command.run(argv, cwd=repo, env={**os.environ, "HOME": str(work)}, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"`{done.command}` failed (exit {done.returncode}): {done.stderr[-2000:]}")
    listed = {job["name"]: job["when"] for job in json.loads(done.stdout)}
    if listed.pop(WORKFLOW_JOB, "never") == "never":
        return None
    return {name: when for name, when in listed.items() if when != "never"}


# The cases .ci/run checks: (event, the jobs that must be created, the jobs that must not).
CASES = [
    (pipeline_eval.Event("push", "develop", mr_open=True), {"test", "deploy-dev"}, {"release-prod"}),
    (pipeline_eval.Event("push", "hotfix/x", mr_open=True), {"test", "release-prod"}, {"deploy-dev"}),
    (pipeline_eval.Event("mr", "feature/x"), {"test", "preview"},
     {"release-prod", "rollback-prod", "promote-prod", "rotate-keys", "deploy-dev"}),
    (pipeline_eval.Event("mr", "develop"), {"test"}, {"release-prod", "rollback-prod", "promote-prod", "rotate-keys"}),
    # One pipeline per push: a feature branch with an open MR runs the MR's, not a branch pipeline.
    (pipeline_eval.Event("push", "feature/x", mr_open=True), set(), {"test", "preview"}),
]


def main() -> int:
    tool = ensure()
    options = Options()
    (file,) = render("gitlab", options, command_line("gitlab", options))
    failures = 0
    with tempfile.TemporaryDirectory(prefix="gitlab-ci-local-") as tmp:
        for event, present, absent in CASES:
            created = jobs(tool, file.text, event, Path(tmp)) or {}
            wrong = sorted(present - set(created)) + sorted(absent & set(created))
            failures += bool(wrong)
            print(f"gitlab-ci-local {VERSION}: {event.kind} {event.ref}{' (MR open)' if event.mr_open else ''}: "
                  f"{', '.join(f'{k} ({v})' for k, v in sorted(created.items())) or 'no pipeline'}"
                  + (f"  WRONG: {', '.join(wrong)}" if wrong else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
