"""CI detection and branch -> environment, against recorded variable sets of every platform
(tests/fixtures/cienv/*.json, names from the vendors' docs) and real git checkouts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from agentrun_tasks.core import cienv
from agentrun_tasks.core.cienv import CIContext, choose_env, detect, slug
from agentrun_tasks.core.errors import ConfigError

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "cienv").glob("*.json"))
PLATFORMS = {"github", "gitlab", "jenkins", "bitbucket", "circleci", "yunxiao", "azure", "buildkite", "ci"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_recorded_variable_set(path, tmp_path):
    case = _load(path)
    environ = dict(case["environ"])
    if "event" in case:  # GitHub writes the webhook payload to $GITHUB_EVENT_PATH
        event = tmp_path / "event.json"
        event.write_text(json.dumps(case["event"]), encoding="utf-8")
        environ["GITHUB_EVENT_PATH"] = str(event)
    expect = case["expect"]

    ci = detect(environ, cwd=tmp_path)  # tmp_path holds no .git: only the variables count

    assert ci.is_ci
    for key in ("platform", "branch", "tag", "sha", "is_pr", "pr_number", "pr_target", "actor", "run_url", "source"):
        if key in expect:
            assert getattr(ci, key) == expect[key], key
    if expect["env"] is None:
        with pytest.raises(ConfigError, match=case["error"]):
            choose_env(ci, explicit=None, branch_map=case.get("branch_map"))
    else:
        env, reason = choose_env(ci, explicit=None, branch_map=case.get("branch_map"))
        assert env == expect["env"], reason
        assert reason


def test_fixtures_cover_every_platform_with_pr_and_tag_variants():
    cases = [_load(p)["expect"] for p in FIXTURES]
    assert {c["platform"] for c in cases} == PLATFORMS
    for platform in PLATFORMS - {"ci", "yunxiao"}:  # Yunxiao documents no PR variables
        assert any(c["platform"] == platform and c["is_pr"] for c in cases), platform
        assert any(c["platform"] == platform and c["tag"] for c in cases), platform


def test_a_pr_build_never_maps_to_prod_even_with_a_custom_map():
    ci = CIContext(platform="github", is_ci=True, branch="main", is_pr=True, pr_number="3")
    env, reason = choose_env(ci, explicit=None, branch_map={"*": "prod"})
    assert env == "preview"
    assert "never" in reason


def test_explicit_env_wins_everywhere():
    for ci in (CIContext("local", False, branch="feature/x"), CIContext("gitlab", True, branch="nomap"),
               CIContext("github", True, branch="main", is_pr=True)):
        assert choose_env(ci, explicit="dev", branch_map=None) == ("dev", "--env was given")


def test_laptop_defaults_to_local_whatever_the_branch():
    env, reason = choose_env(CIContext("local", False, branch="main"), explicit=None, branch_map=None)
    assert env == "local"
    assert "laptop" in reason


def test_unmapped_branch_in_ci_says_which_branch_and_how_to_map_it():
    with pytest.raises(ConfigError) as err:
        choose_env(CIContext("jenkins", True, branch="experiment/x"), explicit=None, branch_map=None)
    text = str(err.value)
    assert "'experiment/x'" in text
    assert "agentrun.branch_map" in text
    assert "--env" in text
    assert ConfigError.exit_code == 2


def test_unmapped_tag_suggests_a_tag_pattern():
    with pytest.raises(ConfigError, match="'tag:nightly'"):
        choose_env(CIContext("gitlab", True, tag="nightly"), explicit=None, branch_map=None)


def test_custom_map_exact_name_beats_an_earlier_pattern():
    ci = CIContext("gitlab", True, branch="feature/special")
    assert choose_env(ci, explicit=None, branch_map={"feature/*": "preview", "feature/special": "dev"})[0] == "dev"


def test_custom_map_replaces_the_default():
    with pytest.raises(ConfigError, match=r"invoke config agentrun.branch_map"):
        choose_env(CIContext("gitlab", True, branch="develop"), explicit=None, branch_map={"main": "prod"})


@pytest.mark.parametrize("bad", [["main"], {"main": 3}, {"main": ""}], ids=["list", "int-value", "empty-value"])
def test_malformed_branch_map_is_a_config_error(bad):
    with pytest.raises(ConfigError, match=r"agentrun.branch_map' must map"):
        choose_env(CIContext("github", True, branch="main"), explicit=None, branch_map=bad)


def test_detection_order_survives_colliding_names(tmp_path):
    # Every platform's marker at once: each is found only after the ones before it are removed.
    markers = {"github": {"GITHUB_ACTIONS": "true"}, "gitlab": {"GITLAB_CI": "true"}, "circleci": {"CIRCLECI": "true"},
               "bitbucket": {"BITBUCKET_BUILD_NUMBER": "1"}, "buildkite": {"BUILDKITE": "true"},
               "azure": {"TF_BUILD": "True"}, "jenkins": {"JENKINS_URL": "http://j/", "BUILD_ID": "1"},
               "yunxiao": {"PIPELINE_ID": "1", "PIPELINE_NAME": "p"}, "ci": {"CI": "true"}}
    environ = {k: v for m in markers.values() for k, v in m.items()}
    environ["BUILD_NUMBER"] = "5"
    for platform, marker in markers.items():
        assert detect(environ, cwd=tmp_path).platform == platform
        for key in marker:
            del environ[key]
    assert detect(environ, cwd=tmp_path).platform == "local"
    assert not detect({"JENKINS_URL": "http://j/"}, cwd=tmp_path).is_ci  # a laptop using the Jenkins CLI


# -- real checkouts --------------------------------------------------------------------------
def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "develop")
    (root / "f").write_text("1")
    git(root, "add", "f")
    git(root, "commit", "-q", "-m", "one")
    (root / "sub").mkdir()
    return root


def test_laptop_reads_branch_and_sha_from_git_files_from_a_subdirectory(repo):
    ci = detect({}, cwd=repo / "sub")
    assert (ci.platform, ci.is_ci, ci.branch, ci.sha) == ("local", False, "develop", git(repo, "rev-parse", "HEAD"))
    assert ci.source == ".git/HEAD"


def test_packed_refs_are_read(repo):
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "develop").exists()
    assert detect({}, cwd=repo).sha == git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize("pack", [False, True], ids=["loose", "packed"])
def test_detached_head_at_an_annotated_tag_is_a_tag_build(repo, pack):
    git(repo, "tag", "-a", "v1.0.0", "-m", "release")
    if pack:
        git(repo, "pack-refs", "--all")
    git(repo, "checkout", "-q", "--detach", "v1.0.0")
    ci = detect({"CI": "true"}, cwd=repo)
    assert (ci.platform, ci.branch, ci.tag) == ("ci", None, "v1.0.0")
    assert choose_env(ci, explicit=None, branch_map=None)[0] == "prod"


def test_generic_ci_with_a_checked_out_branch_maps_it(repo):
    ci = detect({"CI": "true"}, cwd=repo)
    assert (ci.platform, ci.branch) == ("ci", "develop")
    assert choose_env(ci, explicit=None, branch_map=None) == ("dev", "branch 'develop' matches 'develop' in the default Git-Flow map")


def test_worktree_git_file_is_followed(repo, tmp_path):
    git(repo, "worktree", "add", "-q", "-b", "feature/wt", str(tmp_path / "wt"))
    ci = detect({}, cwd=tmp_path / "wt")
    assert ci.branch == "feature/wt"
    assert ci.sha == git(repo, "rev-parse", "HEAD")


def test_yunxiao_ref_name_that_is_a_tag_in_the_checkout_is_a_tag(repo):
    git(repo, "tag", "V1.0")
    ci = detect({"PIPELINE_ID": "1", "PIPELINE_NAME": "p", "BUILD_NUMBER": "2", "CI_COMMIT_REF_NAME": "V1.0"}, cwd=repo)
    assert (ci.platform, ci.branch, ci.tag) == ("yunxiao", None, "V1.0")
    assert ci.sha == git(repo, "rev-parse", "HEAD")  # no CI_COMMIT_SHA given: read from the checkout


def test_no_git_and_no_variables_gives_nothing(tmp_path):
    ci = detect({}, cwd=tmp_path)
    assert (ci.branch, ci.tag, ci.sha, ci.ref) == (None, None, None, None)


def test_to_dict_is_json_ready_and_has_the_ref():
    data = CIContext("gitlab", True, tag="v1").to_dict()
    assert json.loads(json.dumps(data))["ref"] == "tag:v1"


def test_template_context_feeds_env_file_variables():
    ci = CIContext("gitlab", True, branch="feature/Login", sha="2bfb63d779e3648c91950f82d374a25784cdabaf", pr_number="4",
                   is_pr=True)
    assert ci.template_context() == {"platform": "gitlab", "branch": "feature/Login", "ref": "feature/Login",
                                     "sha": ci.sha, "short_sha": "2bfb63d7", "pr_number": "4",
                                     "branch_slug": "feature-login"}
    assert "branch_slug" not in CIContext("ci", True).template_context()


@pytest.mark.parametrize(("branch", "expected"), [
    ("main", "main"),
    ("feature/Login_Page", "feature-login-page"),
    ("--weird//name--", "weird-name"),
    ("日本語", None),
    ("feature/a-very-long-branch-name-that-goes-on-and-on", None),
])
def test_slug_is_dns_safe_short_and_stable(branch, expected):
    value = slug(branch)
    assert value == slug(branch)
    assert 0 < len(value) <= 30
    assert all(ch.isascii() and (ch.isalnum() or ch == "-") and not ch.isupper() for ch in value)
    assert not value.startswith("-")
    assert not value.endswith("-")
    if expected is not None:
        assert value == expected


def test_slug_keeps_long_branches_with_a_shared_prefix_apart():
    a = slug("feature/a-very-long-branch-name-that-goes-on-and-on-1")
    b = slug("feature/a-very-long-branch-name-that-goes-on-and-on-2")
    assert a != b
    assert a.startswith("feature-a-very-long")


def test_default_map_is_git_flow():
    assert cienv.DEFAULT_BRANCH_MAP["develop"] == "dev"
    assert cienv.DEFAULT_BRANCH_MAP["main"] == "prod"


def test_branch_map_given_as_invoke_dataproxy_is_accepted(tmp_path):
    from invoke import Config

    cfg = Config(overrides={"agentrun": {"branch_map": {"trunk": "prod"}}})
    proxy = cfg.agentrun.branch_map  # attribute access yields a DataProxy, not a Mapping
    assert choose_env(CIContext("github", True, branch="trunk"), explicit=None, branch_map=proxy)[0] == "prod"
