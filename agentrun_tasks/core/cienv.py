"""Where are we running, and which environment does that mean?

:func:`detect` reads the CI platform's variables (each platform's documented set; recorded runs in
``tests/fixtures/cienv/``) into a :class:`CIContext`; :func:`choose_env` turns that into an
environment name with a human reason; :func:`slug` makes a branch name safe for preview runtime
names. Pure: no subprocess, no network. On a laptop (or a CI that names no branch) the branch and
commit are read from the ``.git`` files (:mod:`.gitrefs`).

Refs are matched as the branch name (``feature/login``) or, for a tag, ``tag:<name>``
(``tag:v1.2.0``); git forbids ``:`` in ref names, so the two can never be confused.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Callable, Mapping

from .errors import ConfigError
from .gitrefs import read_head, ref_exists, strip_ref

TAG_PREFIX = "tag:"

# Git Flow. First match wins after exact names. release/* is the stabilisation branch that
# is tested before it merges to main, so it goes to dev, not prod; v1.2.3-style tags release.
DEFAULT_BRANCH_MAP: Mapping[str, str] = {
    "main": "prod",
    "master": "prod",
    "hotfix/*": "prod",
    "develop": "dev",
    "release/*": "dev",
    "feature/*": "preview",
    "bugfix/*": "preview",
    "tag:v[0-9]*": "prod",
}
PROD = "prod"  # the environment a PR/MR build never maps to
PROD_NAMES = (PROD, "production")  # environments treated as production wherever it matters
PR_ENV = "preview"  # where a PR/MR build goes instead


@dataclass(frozen=True)
class CIContext:
    """What the platform (or the checkout) says about this run. Missing facts are ``None``."""

    platform: str  # github|gitlab|jenkins|bitbucket|circleci|yunxiao|azure|buildkite|ci|local
    is_ci: bool
    branch: str | None = None  # on a PR/MR build: its source branch
    tag: str | None = None
    sha: str | None = None
    actor: str | None = None
    run_url: str | None = None
    pr_number: str | None = None
    pr_target: str | None = None
    is_pr: bool = False
    source: str | None = None  # where the branch or tag was read from, e.g. GITHUB_HEAD_REF
    build_id: str | None = None
    dirty: bool = False  # the checkout differs from ``sha`` (set by the session for changes it publishes)

    @property
    def ref(self) -> str | None:
        """The name branch maps and protect patterns match: ``tag:<tag>`` or the branch."""
        return TAG_PREFIX + self.tag if self.tag else self.branch

    def to_dict(self) -> dict:
        return {**asdict(self), "ref": self.ref}

    def template_context(self) -> dict[str, str]:
        """The ``${ctx.x}`` variables of env files: the known facts, plus ``branch_slug`` and
        ``short_sha``. Unknown facts are left out, so using one is a clear config error."""
        facts = {k: v for k, v in self.to_dict().items() if isinstance(v, str) and v}
        name = self.branch or self.tag
        if name:
            facts["branch_slug"] = slug(name)
        if self.sha:
            facts["short_sha"] = self.sha[:8]
        return facts


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
    suffixes = sorted((int(k.rsplit("_", 1)[1]) for k in env if re.fullmatch(r"CI_COMMIT_REF_NAME_\d+", k)))
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


def who(ci: CIContext) -> str:
    """Who acts: the CI platform's actor, else the local user (as history and notifications say)."""
    if ci.actor:
        return ci.actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


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


# -- branch -> environment ------------------------------------------------------------------
def _match(ref: str, mapping: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(env, pattern): an exact name wins, then the first fnmatch pattern in mapping order."""
    if ref in mapping:
        return mapping[ref], ref
    for pattern, env in mapping.items():
        if fnmatchcase(ref, pattern):
            return env, pattern
    return None, None


def _checked_map(branch_map: object) -> tuple[Mapping[str, str], str]:
    if not branch_map:
        return DEFAULT_BRANCH_MAP, "the default Git-Flow map"
    # Duck-typed: invoke hands nested config over as a DataProxy, which is no Mapping.
    items = getattr(branch_map, "items", None)
    mapping = dict(items()) if callable(items) else None
    if mapping is None or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in mapping.items()):
        raise ConfigError(
            f"invoke config 'agentrun.branch_map' must map branch patterns to environment names "
            f"(e.g. {{'main': 'prod', 'feature/*': 'preview', 'tag:v*': 'prod'}}), got {branch_map!r}. "
            f"Fix it in invoke.yaml.")
    return mapping, "invoke config agentrun.branch_map"


def choose_env(ci: CIContext, *, explicit: str | None, branch_map: object) -> tuple[str, str]:
    """(environment name, why). ``--env`` wins; a laptop defaults to ``local``; CI maps its ref.

    ``branch_map`` (invoke config ``agentrun.branch_map``: fnmatch pattern -> env, tags written
    ``tag:<pattern>``) replaces :data:`DEFAULT_BRANCH_MAP`. A PR/MR build maps by its source
    branch but never to ``prod`` (it gets ``preview``, also when its branch is unmapped). An
    unmapped branch or tag of any other CI build is a :class:`ConfigError`.
    """
    if explicit is not None:
        if not explicit.strip():
            # An empty --env (an unset CI variable, say) must not fall back to the branch's environment.
            raise ConfigError(f"--env {explicit!r} is empty: name an environment (envs/<name>.yaml), or leave "
                              "--env out to use the default (local on a laptop, the branch's environment in CI).")
        return explicit, "--env was given"
    if not ci.is_ci:
        return "local", "not running in CI (a laptop): the default is 'local'; pass --env to choose another"
    mapping, where = _checked_map(branch_map)
    ref = ci.ref
    what = f"tag '{ci.tag}'" if ci.tag else f"branch '{ci.branch}'"
    if ci.is_pr:
        pr = f"{'PR/MR #' + ci.pr_number if ci.pr_number else 'a PR/MR build'} from branch '{ci.branch}'"
        env, pattern = _match(ref, mapping) if ref else (None, None)
        if env is None:
            return PR_ENV, f"{pr} matches no pattern in {where}; a PR/MR build defaults to '{PR_ENV}'"
        if env == PROD:
            return PR_ENV, f"{pr} matches '{pattern}' -> '{PROD}' in {where}, but a PR/MR build never goes to '{PROD}'"
        return env, f"{pr} matches '{pattern}' in {where}"
    if ref is None:
        raise ConfigError(
            f"running in CI ({ci.platform}) but no branch or tag could be found (no branch variable, and the "
            f"checkout's HEAD is detached or missing), so no environment can be chosen. Pass --env NAME, "
            f"or check out a branch.")
    env, pattern = _match(ref, mapping)
    if env is None:
        example = f"'{TAG_PREFIX}{ci.tag}'" if ci.tag else f"'{ci.branch}'"
        raise ConfigError(
            f"{what} ({ci.platform}) matches no pattern in {where} ({', '.join(mapping)}), so no environment "
            f"can be chosen. Pass --env NAME, or map it in invoke.yaml under agentrun.branch_map, e.g. "
            f"{example}: dev (fnmatch patterns; tags are written 'tag:<pattern>'; the map replaces the default).")
    return env, f"{what} matches '{pattern}' in {where}"


def slug(branch: str, max_len: int = 30) -> str:
    """A DNS- and AgentRun-safe name part: lowercase ``[a-z0-9-]``, at most ``max_len`` characters.

    A name that had to be shortened ends in a 6-character hash of the full branch name, so two
    long branches with the same prefix still get different preview runtimes.
    """
    text = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")
    if text and len(text) <= max_len:
        return text
    digest = hashlib.sha256(branch.encode("utf-8")).hexdigest()[:6]
    head = text[: max_len - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest
