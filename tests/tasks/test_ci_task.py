"""``invoke ci.env``: the real CLI in a subprocess, fed recorded CI variable sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "cienv"
SENTINEL = "SENTINEL-ci-env-9f8e7d6c5b4a"


def run_ci_env(tmp_path: Path, fixture: str | None, *args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m invoke [args]`` in the repository root with only the recorded variables set."""
    environ = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    if fixture:
        case = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
        environ.update(case["environ"])
        if "event" in case:
            event = tmp_path / "event.json"
            event.write_text(json.dumps(case["event"]), encoding="utf-8")
            environ["GITHUB_EVENT_PATH"] = str(event)
    environ.update(extra or {})
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=60)


def test_github_pr_set_gives_json_with_platform_branch_pr_and_env(tmp_path):
    # A planted credential must not matter (the task reads none) and must never be printed.
    proc = run_ci_env(tmp_path, "github-pr", "ci.env", "--json",
                      extra={"ALIBABA_CLOUD_ACCESS_KEY_SECRET": SENTINEL, "ALIYUN_ACCESS_KEY_SECRET_PROD": SENTINEL})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["platform"] == "github"
    assert data["is_ci"] is True
    assert (data["branch"], data["is_pr"], data["pr_number"], data["pr_target"]) == ("feature/chat", True, "77", "develop")
    assert data["run_url"] == "https://github.com/acme/agent/actions/runs/9876543210"
    assert data["env"] == "preview"
    assert "feature/*" in data["reason"]
    assert SENTINEL not in proc.stdout + proc.stderr


@pytest.mark.parametrize("fixture", ["github-tag", "gitlab-mr-from-main", "jenkins-pr", "bitbucket-branch",
                                     "circleci-tag", "yunxiao-branch", "azure-pr", "buildkite-branch"])
def test_each_platform_through_the_cli(fixture, tmp_path):
    expect = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))["expect"]
    proc = run_ci_env(tmp_path, fixture, "ci.env", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {k: data[k] for k in ("platform", "branch", "tag", "sha", "pr_number", "env")} == \
           {k: expect[k] for k in ("platform", "branch", "tag", "sha", "pr_number", "env")}


SPIKE = {"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "spike/x", "CI_COMMIT_SHA": "abc"}


def test_unmapped_branch_exits_2_with_one_paragraph_and_still_prints_json(tmp_path):
    proc = run_ci_env(tmp_path, None, "ci.env", "--json", extra=SPIKE)
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["platform"] == "gitlab"
    assert data["env"] is None
    assert "spike/x" in data["error"]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: branch 'spike/x'")
    assert "agentrun.branch_map" in proc.stderr


def test_branch_map_from_invoke_config(tmp_path):
    cfg = tmp_path / "invoke.yaml"
    cfg.write_text("agentrun:\n  branch_map:\n    'spike/*': dev\n", encoding="utf-8")
    proc = run_ci_env(tmp_path, None, "-f", str(cfg), "ci.env", "--json", extra=SPIKE)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["env"] == "dev"
    assert "agentrun.branch_map" in data["reason"]


def test_explicit_env_wins_over_an_unmapped_branch(tmp_path):
    data = json.loads(run_ci_env(tmp_path, None, "ci.env", "--json", "--env", "prod", extra=SPIKE).stdout)
    assert (data["env"], data["reason"]) == ("prod", "--env was given")


def test_human_output_on_a_laptop(tmp_path):
    proc = run_ci_env(tmp_path, None, "ci.env")
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(None, 1) for line in proc.stdout.splitlines() if line.strip())
    assert lines["platform"] == "local (not CI)"
    assert lines["environment"] == "local"
    assert len(lines["commit"]) == 40  # read from this repository's .git without running git


def test_help_text_reads_well(tmp_path):
    proc = run_ci_env(tmp_path, None, "--help", "ci.env")
    assert proc.returncode == 0
    for fragment in ("--env", "--json", "Yunxiao", "agentrun.branch_map", "never maps to prod"):
        assert fragment in proc.stdout


@pytest.mark.parametrize(("fixture", "env", "allowed", "fragment"), [
    ("github-push-feature", "prod", False, "refused: environment 'prod' may only be changed from 'main', 'master', 'hotfix/*'"),
    ("gitlab-mr", "prod", False, "PR/MR #42"),
    ("github-push-main", None, True, "allowed"),
    ("gitlab-mr", None, True, "allowed"),  # preview: its agent is named after the MR's source branch
], ids=["feature-to-prod", "mr-to-prod", "main-to-prod", "mr-to-preview"])
def test_ci_env_says_whether_protection_would_allow_the_build(fixture, env, allowed, fragment, tmp_path):
    proc = run_ci_env(tmp_path, fixture, "ci.env", "--json", *(("--env", env) if env else ()))
    assert proc.returncode == 0, proc.stderr
    protection = json.loads(proc.stdout)["protection"]
    assert protection["allowed"] is allowed
    assert fragment in protection["detail"]
