"""Identical semantics on every platform: under each platform's recorded variables for the same
scenario (push to develop, push to main, PR/MR, feature branch, tag, schedule), the real
``invoke ci.env`` process makes the same decision (environment, protection, prompt) for the
command the generated pipeline runs there, and one ``invoke deploy`` per platform against the
emulator writes the same outputs through that platform's own mechanism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun_tasks.testing.project import clean_environ

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cienv"

# scenario -> (the env the branch map chooses, the --env the generated pipeline passes there)
SCENARIOS = {"develop": ("dev", "dev"), "main": ("prod", "prod"), "pr": ("preview", "preview"),
             "feature": ("preview", "preview"), "tag": ("prod", "prod"), "schedule": ("prod", "prod")}
RECORDED = {
    "github": {"develop": "github-push-develop", "main": "github-push-main", "pr": "github-pr",
               "feature": "github-push-feature", "tag": "github-tag", "schedule": "github-schedule"},
    "gitlab": {"develop": "gitlab-branch", "main": "gitlab-push-main", "pr": "gitlab-mr",
               "feature": "gitlab-push-feature", "tag": "gitlab-tag", "schedule": "gitlab-schedule"},
    "jenkins": {"develop": "jenkins-push-develop", "main": "jenkins-branch", "pr": "jenkins-pr",
                "feature": "jenkins-push-feature", "tag": "jenkins-tag", "schedule": "jenkins-schedule"},
    "bitbucket": {"develop": "bitbucket-branch", "main": "bitbucket-push-main", "pr": "bitbucket-pr",
                  "feature": "bitbucket-push-feature", "tag": "bitbucket-tag", "schedule": "bitbucket-schedule"},
    "circleci": {"develop": "circleci-push-develop", "main": "circleci-push-main", "pr": "circleci-pr",
                 "feature": "circleci-push-feature", "tag": "circleci-tag", "schedule": "circleci-schedule"},
    # Yunxiao documents no MR variables: an MR run is a run on its source branch ("feature").
    "yunxiao": {"develop": "yunxiao-push-develop", "main": "yunxiao-push-main", "feature": "yunxiao-push-feature",
                "tag": "yunxiao-tag", "schedule": "yunxiao-schedule"},
}
CASES = [(p, s) for p, scenarios in RECORDED.items() for s in scenarios]


def recorded(name: str, tmp_path: Path) -> dict:
    case = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    environ = dict(case["environ"])
    if "event" in case:
        event = tmp_path / "event.json"
        event.write_text(json.dumps(case["event"]), encoding="utf-8")
        environ["GITHUB_EVENT_PATH"] = str(event)
    return environ


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A project whose .git holds tag v1.4.0: Yunxiao's ref variable names a branch or a tag, and
    only the checkout tells which (as on a Flow runner, which clones the ref it builds)."""
    from agentrun_tasks.testing.project import Project

    root = tmp_path_factory.mktemp("semantics") / "project"
    Project.copy(Path(__file__).resolve().parents[2], root)
    git = root / ".git"
    (git / "refs" / "tags").mkdir(parents=True)
    (git / "refs" / "heads").mkdir(parents=True)
    sha = "2bfb63d779e3648c91950f82d374a25784cdabaf"
    (git / "HEAD").write_text(sha + "\n")
    (git / "refs" / "tags" / "v1.4.0").write_text(sha + "\n")
    return root


def ci_env(project_root: Path, environ: dict, *args: str) -> dict:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "invoke", "ci.env", "--json", *args], cwd=project_root,
                          env=clean_environ(**environ), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def decision(data: dict) -> tuple:
    protection = data["protection"] or {}
    return data["env"], protection.get("allowed"), protection.get("detail", "").split(":")[0]


@pytest.mark.parametrize("platform, scenario", CASES, ids=[f"{p}-{s}" for p, s in CASES])
def test_the_same_command_makes_the_same_decision(platform, scenario, checkout, tmp_path):
    mapped, passed = SCENARIOS[scenario]
    environ = recorded(RECORDED[platform][scenario], tmp_path)
    chosen = ci_env(checkout, environ)
    assert chosen["platform"] == platform
    assert chosen["env"] == mapped, chosen["reason"]
    # The command the generated pipeline runs in this scenario is allowed, and never prompts in CI.
    assert decision(ci_env(checkout, environ, "--env", passed)) == (passed, True, "allowed")
    if passed != "prod":  # production refuses a PR/MR or a feature branch whatever the platform
        assert decision(ci_env(checkout, environ, "--env", "prod")) == ("prod", False, "refused")


OUTPUTS = {  # where each platform's dialect puts deploy's outputs: (variable naming the file, parse)
    "github": "GITHUB_OUTPUT", "bitbucket": "BITBUCKET_PIPELINES_VARIABLES_PATH", "circleci": "BASH_ENV",
    "gitlab": "AGENTRUN_OUTPUT_FILE", "jenkins": "AGENTRUN_OUTPUT_FILE", "yunxiao": "AGENTRUN_OUTPUT_FILE",
}


def _outputs(text: str) -> dict:
    pairs = (line.removeprefix("export ").split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.lower(): v.strip('"') for k, v in pairs}


def test_one_deploy_per_platform_gives_the_same_result_and_outputs(project):
    results = {}
    for platform, variable in OUTPUTS.items():
        out = project.root / f"{platform}.outputs"
        environ = recorded(RECORDED[platform]["develop"], project.root)
        env = clean_environ(**environ, **{variable: str(out)})
        proc = project.invoke("deploy", "--env", "local", "--json", env=env)
        assert proc.returncode == 0, (platform, proc.stderr)
        data = json.loads(proc.stdout)
        runtime = data.get("runtime") or {}
        decided = {"url": data.get("url"), "version": data.get("version"),
                   "runtime": {k: runtime.get(k) for k in ("id", "name", "status")}}
        results[platform] = (decided, _outputs(out.read_text()))
    first = next(iter(results.values()))
    assert {"endpoint_url", "runtime_id"} <= set(first[1]), first[1]
    for platform, result in results.items():
        assert result == first, platform
