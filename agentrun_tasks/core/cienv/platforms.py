"""Where are we running? :func:`detect` reads the CI platform's variables (each platform's
documented set; recorded runs in ``tests/fixtures/cienv/``) into a :class:`~.context.CIContext`.
On a laptop (or a CI that names no branch) the branch and commit are read from the ``.git`` files
(:mod:`agentrun_tasks.core.gitrefs`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ..gitrefs import read_head, ref_exists, strip_ref
from .context import CIContext


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def _first(env: Mapping[str, str], *names: str) -> tuple[str | None, str | None]:
    """The first non-empty variable of ``names`` as (value, name)."""
    for name in names:
        if env.get(name):
            return env[name], name
    return None, None


# -- one reader per platform: each returns CIContext fields -----------------------------------
def _github(env: Mapping[str, str], cwd: Path) -> dict:
    fields = {"sha": env.get("GITHUB_SHA"), "actor": env.get("GITHUB_ACTOR"), "build_id": env.get("GITHUB_RUN_ID")}
    if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        fields["run_url"] = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    if env.get("GITHUB_EVENT_NAME") in ("pull_request", "pull_request_target"):
        # GITHUB_REF_NAME is "N/merge" here: the source branch is GITHUB_HEAD_REF.
        match = re.fullmatch(r"refs/pull/(\d+)/\w+", env.get("GITHUB_REF", ""))
        number = _github_pr_number(env.get("GITHUB_EVENT_PATH")) or (match.group(1) if match else None)
        return {**fields, "branch": env.get("GITHUB_HEAD_REF"), "source": "GITHUB_HEAD_REF", "is_pr": True,
                "pr_number": number, "pr_target": env.get("GITHUB_BASE_REF")}
    name = env.get("GITHUB_REF_NAME") or strip_ref(env.get("GITHUB_REF"))
    if env.get("GITHUB_REF_TYPE") == "tag" or env.get("GITHUB_REF", "").startswith("refs/tags/"):
        return {**fields, "tag": name, "source": "GITHUB_REF_NAME (GITHUB_REF_TYPE=tag)"}
    return {**fields, "branch": name, "source": "GITHUB_REF_NAME"}


def _github_pr_number(event_path: str | None) -> str | None:
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8")) if event_path else {}
    except (OSError, ValueError):
        return None  # no event file (e.g. a recorded set): fall back to GITHUB_REF
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return str(number) if number else None


def _gitlab(env: Mapping[str, str], cwd: Path) -> dict:
    fields = {"sha": env.get("CI_COMMIT_SHA"), "actor": env.get("GITLAB_USER_LOGIN"),
              "run_url": env.get("CI_PIPELINE_URL") or env.get("CI_JOB_URL"), "build_id": env.get("CI_PIPELINE_ID")}
    for kind in ("MERGE_REQUEST", "EXTERNAL_PULL_REQUEST"):
        if env.get(f"CI_{kind}_IID"):
            return {**fields, "branch": env.get(f"CI_{kind}_SOURCE_BRANCH_NAME"), "is_pr": True,
                    "source": f"CI_{kind}_SOURCE_BRANCH_NAME", "pr_number": env[f"CI_{kind}_IID"],
                    "pr_target": env.get(f"CI_{kind}_TARGET_BRANCH_NAME")}
    if env.get("CI_COMMIT_TAG"):
        return {**fields, "tag": env["CI_COMMIT_TAG"], "source": "CI_COMMIT_TAG"}
    branch, name = _first(env, "CI_COMMIT_BRANCH", "CI_COMMIT_REF_NAME")
    return {**fields, "branch": branch, "source": name}


def _circleci(env: Mapping[str, str], cwd: Path) -> dict:
    pr_url = env.get("CIRCLE_PULL_REQUEST", "")
    number = env.get("CIRCLE_PR_NUMBER") or (pr_url.rstrip("/").rsplit("/", 1)[-1] if pr_url else None)
    tag = env.get("CIRCLE_TAG")
    return {"branch": env.get("CIRCLE_BRANCH"), "tag": tag, "source": "CIRCLE_TAG" if tag else "CIRCLE_BRANCH",
            "sha": env.get("CIRCLE_SHA1"), "actor": env.get("CIRCLE_USERNAME"), "run_url": env.get("CIRCLE_BUILD_URL"),
            "build_id": env.get("CIRCLE_WORKFLOW_ID") or env.get("CIRCLE_BUILD_NUM"), "pr_number": number}


def _bitbucket(env: Mapping[str, str], cwd: Path) -> dict:
    tag, number, repo = env.get("BITBUCKET_TAG"), env.get("BITBUCKET_BUILD_NUMBER"), env.get("BITBUCKET_REPO_FULL_NAME")
    url = f"https://bitbucket.org/{repo}/addon/pipelines/home#!/results/{number}" if repo else None
    return {"branch": env.get("BITBUCKET_BRANCH"), "tag": tag, "source": "BITBUCKET_TAG" if tag else "BITBUCKET_BRANCH",
            "sha": env.get("BITBUCKET_COMMIT"), "actor": env.get("BITBUCKET_STEP_TRIGGERER_UUID"), "run_url": url,
            "build_id": number, "pr_number": env.get("BITBUCKET_PR_ID"),
            "pr_target": env.get("BITBUCKET_PR_DESTINATION_BRANCH")}


def _buildkite(env: Mapping[str, str], cwd: Path) -> dict:
    pr = env.get("BUILDKITE_PULL_REQUEST", "false")
    tag = env.get("BUILDKITE_TAG")
    return {"branch": env.get("BUILDKITE_BRANCH"), "tag": tag, "source": "BUILDKITE_TAG" if tag else "BUILDKITE_BRANCH",
            "sha": env.get("BUILDKITE_COMMIT"), "actor": env.get("BUILDKITE_BUILD_CREATOR"),
            "run_url": env.get("BUILDKITE_BUILD_URL"), "build_id": env.get("BUILDKITE_BUILD_ID"),
            "pr_number": None if pr in ("", "false") else pr,
            "pr_target": env.get("BUILDKITE_PULL_REQUEST_BASE_BRANCH")}


def _azure(env: Mapping[str, str], cwd: Path) -> dict:
    fields = {"sha": env.get("BUILD_SOURCEVERSION"), "actor": env.get("BUILD_REQUESTEDFOR"),
              "build_id": env.get("BUILD_BUILDID")}
    if env.get("SYSTEM_COLLECTIONURI") and env.get("SYSTEM_TEAMPROJECT") and env.get("BUILD_BUILDID"):
        base = env["SYSTEM_COLLECTIONURI"].rstrip("/")
        fields["run_url"] = f"{base}/{env['SYSTEM_TEAMPROJECT']}/_build/results?buildId={env['BUILD_BUILDID']}"
    number, _ = _first(env, "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "SYSTEM_PULLREQUEST_PULLREQUESTID")
    if number or env.get("BUILD_REASON") == "PullRequest":
        return {**fields, "branch": strip_ref(env.get("SYSTEM_PULLREQUEST_SOURCEBRANCH")), "is_pr": True,
                "source": "SYSTEM_PULLREQUEST_SOURCEBRANCH", "pr_number": number,
                "pr_target": strip_ref(env.get("SYSTEM_PULLREQUEST_TARGETBRANCH"))}
    ref = env.get("BUILD_SOURCEBRANCH", "")
    kind = "tag" if ref.startswith("refs/tags/") else "branch"
    return {**fields, kind: strip_ref(ref), "source": "BUILD_SOURCEBRANCH"}


def _jenkins(env: Mapping[str, str], cwd: Path) -> dict:
    fields = {"sha": env.get("GIT_COMMIT"), "run_url": env.get("BUILD_URL") or env.get("RUN_DISPLAY_URL"),
              "build_id": env.get("BUILD_NUMBER"), "tag": env.get("TAG_NAME")}
    if env.get("CHANGE_ID"):  # multibranch PR job: BRANCH_NAME is "PR-24"
        return {**fields, "branch": env.get("CHANGE_BRANCH"), "source": "CHANGE_BRANCH", "is_pr": True,
                "pr_number": env["CHANGE_ID"], "pr_target": env.get("CHANGE_TARGET"), "actor": env.get("CHANGE_AUTHOR")}
    if fields["tag"]:
        return {**fields, "source": "TAG_NAME"}
    branch, name = _first(env, "BRANCH_NAME", "GIT_LOCAL_BRANCH", "GIT_BRANCH")
    if name == "GIT_BRANCH" and branch:  # freestyle jobs: "origin/main"
        branch = branch.split("/", 1)[1] if branch.startswith("origin/") else branch
    return {**fields, "branch": branch, "source": name}


def _yunxiao(env: Mapping[str, str], cwd: Path) -> dict:
    # One code source: CI_COMMIT_REF_NAME; several: CI_COMMIT_REF_NAME_<n>, the first one counts.
    suffixes = sorted(int(k.rsplit("_", 1)[1]) for k in env if re.fullmatch(r"CI_COMMIT_REF_NAME_\d+", k))
    suffix = "" if env.get("CI_COMMIT_REF_NAME") or not suffixes else f"_{suffixes[0]}"
    name = env.get(f"CI_COMMIT_REF_NAME{suffix}")
    # The variable holds a branch *or* a tag; only the checkout can tell which.
    kind = "tag" if name and ref_exists(cwd, f"refs/tags/{name}") else "branch"
    return {kind: name, "source": f"CI_COMMIT_REF_NAME{suffix}", "sha": env.get(f"CI_COMMIT_SHA{suffix}"),
            "actor": env.get("BUILD_EXECUTOR"), "build_id": env.get("BUILD_NUMBER")}


_PLATFORMS: tuple[tuple[str, Callable[[Mapping[str, str]], bool], Callable[[Mapping[str, str], Path], dict]], ...] = (
    # Order matters: Yunxiao shares CI_COMMIT_* with GitLab and BUILD_NUMBER with Jenkins.
    ("github", lambda e: _true(e.get("GITHUB_ACTIONS")), _github),
    ("gitlab", lambda e: _true(e.get("GITLAB_CI")), _gitlab),
    ("circleci", lambda e: _true(e.get("CIRCLECI")), _circleci),
    ("bitbucket", lambda e: bool(e.get("BITBUCKET_BUILD_NUMBER")), _bitbucket),
    ("buildkite", lambda e: _true(e.get("BUILDKITE")), _buildkite),
    ("azure", lambda e: _true(e.get("TF_BUILD")), _azure),
    ("jenkins", lambda e: bool(e.get("JENKINS_URL") and e.get("BUILD_ID")), _jenkins),
    ("yunxiao", lambda e: bool(e.get("PIPELINE_ID") and e.get("PIPELINE_NAME")), _yunxiao),
    ("ci", lambda e: _true(e.get("CI")), lambda e, cwd: {}),
)


def detect(environ: Mapping[str, str], cwd: Path | None = None) -> CIContext:
    """Identify the platform and read branch, tag, commit, actor, run URL and PR/MR facts."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    platform, fields = "local", {}
    for name, applies, read in _PLATFORMS:
        if applies(environ):
            platform, fields = name, read(environ, cwd)
            break
    fields = {k: (strip_ref(v) if k in ("branch", "tag") else v) or None for k, v in fields.items()}
    if fields.get("branch") and fields["branch"] == fields.get("tag"):
        fields["branch"] = None  # Jenkins and Buildkite repeat a tag's name as the branch
    named = fields.get("branch") or fields.get("tag")
    if not (named or fields.get("is_pr")) or not fields.get("sha"):
        # A laptop, a bare CI=true, or a platform that left a fact out: ask the checkout.
        head = read_head(cwd)
        if not (named or fields.get("is_pr")):
            fields.update(branch=head.branch, tag=head.tag, source=head.source)
        fields["sha"] = fields.get("sha") or head.sha
    fields["is_pr"] = bool(fields.get("is_pr") or fields.get("pr_number"))
    return CIContext(platform=platform, is_ci=platform != "local", **fields)
