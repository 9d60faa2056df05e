"""Production protection: allowed branches, PR/MR builds, confirmation only on a laptop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun_tasks.core import cienv, config, protect
from agentrun_tasks.core.cienv import CIContext
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.model import EnvConfig, ProtectConfig

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "cienv"


def make_env(name="prod", branches=("main", "hotfix/*"), confirm=True) -> EnvConfig:
    return EnvConfig(name=name, path=Path(f"/p/envs/{name}.yaml"), region="cn-hangzhou", driver="openapi",
                     agent={"name": "a"}, protect=ProtectConfig(branches=tuple(branches), confirm=confirm))


@pytest.mark.parametrize("ci", [
    CIContext("github", True, branch="main"),
    CIContext("jenkins", True, branch="hotfix/1.2.1"),
    CIContext("local", False, branch="main"),
], ids=["ci-main", "ci-hotfix", "laptop-main"])
def test_allowed_branches_pass(ci):
    protect.check(make_env(), ci)


@pytest.mark.parametrize(("ci", "fragment"), [
    (CIContext("github", True, branch="feature/login"), "branch 'feature/login' in github"),
    (CIContext("local", False, branch="develop"), "branch 'develop' on this laptop"),
    (CIContext("gitlab", True, tag="v1.0.0"), "'tag:<name>'"),
], ids=["ci-feature", "laptop-develop", "tag-not-listed"])
def test_other_branches_are_refused_with_branch_env_and_patterns(ci, fragment):
    with pytest.raises(ConfigError) as err:
        protect.check(make_env(), ci)
    text = str(err.value)
    assert fragment in text
    assert "'prod'" in text
    assert "'main', 'hotfix/*'" in text
    assert "/p/envs/prod.yaml" in text
    assert err.value.exit_code == 2


def test_a_tag_pattern_allows_tag_builds():
    protect.check(make_env(branches=("main", "tag:v*")), CIContext("gitlab", True, tag="v1.0.0"))


def test_unknown_branch_is_refused_when_branches_are_listed():
    with pytest.raises(ConfigError, match="current branch is unknown"):
        protect.check(make_env(), CIContext("ci", True, sha="abc"))


@pytest.mark.parametrize("env", [
    make_env(),
    make_env(branches=(), confirm=True),
    make_env(name="prod", branches=(), confirm=False),
    make_env(name="staging", branches=("*",), confirm=False),
], ids=["branches", "confirm-only", "named-prod", "any-branch-pattern"])
def test_a_pr_build_may_never_change_a_protected_env(env):
    # Even from main, and even when its source branch matches the allowed patterns.
    ci = CIContext("github", True, branch="main", is_pr=True, pr_number="12")
    with pytest.raises(ConfigError, match="PR/MR #12"):
        protect.check(env, ci)


def test_unprotected_env_takes_anything():
    env = make_env(name="preview", branches=(), confirm=False)
    protect.check(env, CIContext("github", True, branch="feature/x", is_pr=True))
    protect.check(env, CIContext("ci", True))


@pytest.mark.parametrize(("is_ci", "confirm", "yes", "expected"), [
    (False, True, False, True),
    (False, True, True, False),
    (False, False, False, False),
    (True, True, False, False),
], ids=["laptop-asks", "laptop-yes", "not-confirm-env", "ci-never-prompts"])
def test_needs_confirmation(is_ci, confirm, yes, expected):
    ci = CIContext("github" if is_ci else "local", is_ci, branch="main")
    assert protect.needs_confirmation(make_env(confirm=confirm), ci, yes=yes) is expected


# -- the real envs/prod.yaml with recorded CI variable sets -----------------------------------
def _session(fixture: str, explicit: str | None, tmp_path: Path):
    environ = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))["environ"]
    ci = cienv.detect(environ, cwd=tmp_path)
    name, _ = cienv.choose_env(ci, explicit=explicit, branch_map=None)
    return config.load_env(name, root=ROOT, environ=environ, context=ci.template_context()), ci


@pytest.mark.parametrize("fixture", ["github-push-feature", "github-pr", "gitlab-mr-from-main", "jenkins-pr",
                                     "bitbucket-pr", "github-push-develop"])
def test_real_prod_refuses_feature_branches_and_every_pr(fixture, tmp_path):
    cfg, ci = _session(fixture, "prod", tmp_path)
    with pytest.raises(ConfigError, match="'prod'"):
        protect.check(cfg, ci)


@pytest.mark.parametrize("fixture", ["github-push-main", "github-hotfix"])
def test_real_prod_accepts_its_branches_as_mapped(fixture, tmp_path):
    cfg, ci = _session(fixture, None, tmp_path)
    assert cfg.name == "prod"
    protect.check(cfg, ci)
    assert not protect.needs_confirmation(cfg, ci, yes=False)  # CI never prompts


def test_pr_from_main_cannot_reach_prod_by_mapping(tmp_path):
    cfg, ci = _session("gitlab-mr-from-main", None, tmp_path)
    assert cfg.name == "preview"
    assert cfg.agent_name == "agentrun-tasks-example-main"  # ${ctx.branch_slug} of the MR's source branch
    protect.check(cfg, ci)


@pytest.mark.parametrize("name", ["prod", "production"])
def test_production_by_name_is_protected_from_pr_builds_even_without_rules(name):
    env = make_env(name=name, branches=(), confirm=False)
    assert protect.is_protected(env)
    with pytest.raises(ConfigError):
        protect.check(env, CIContext("github", True, branch="feature/x", is_pr=True))
