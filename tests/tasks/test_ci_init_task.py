"""``invoke ci.init`` and ``invoke ci.test`` as real processes: writing, refusing to overwrite,
--check, bad input; this repository's own workflow is what the command generates; the lock
file the pipelines install from covers every dependency pyproject.toml names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from agentrun_tasks.core.pipelines import model
from agentrun_tasks.testing.project import clean_environ

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd, env=clean_environ(),
                          capture_output=True, text=True, timeout=60)


def test_this_repositorys_workflow_is_up_to_date():
    proc = invoke("ci.init", "--platform", "github", "--jobs", "test", "--check")
    assert proc.returncode == 0, proc.stderr
    assert "up to date: .github/workflows/agentrun.yml" in proc.stdout


@pytest.mark.parametrize(("platform", "paths"), [
    ("gitlab", [".gitlab-ci.yml"]), ("jenkins", ["Jenkinsfile"]),
    ("yunxiao", [".yunxiao/ci.yml", ".yunxiao/release.yml", ".yunxiao/manage.yml", ".yunxiao/rotate-keys.yml"]),
])
def test_writes_refuses_to_overwrite_and_checks(platform, paths, tmp_path):
    proc = invoke("ci.init", "--platform", platform, "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert all((tmp_path / p).is_file() for p in paths)
    before = {p: (tmp_path / p).read_text() for p in paths}
    (tmp_path / paths[0]).write_text(before[paths[0]] + "# a hand edit\n")

    again = invoke("ci.init", "--platform", platform, "--out", str(tmp_path))
    assert again.returncode == 2
    assert "Traceback" not in again.stderr
    assert str(tmp_path / paths[0]) in again.stderr
    assert "--force" in again.stderr
    assert (tmp_path / paths[0]).read_text().endswith("# a hand edit\n")  # nothing was written

    check = invoke("ci.init", "--platform", platform, "--out", str(tmp_path), "--check")
    assert check.returncode == 2
    assert f"{paths[0]}: out of date (+0 -1 lines" in check.stderr

    forced = invoke("ci.init", "--platform", platform, "--out", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert {p: (tmp_path / p).read_text() for p in paths} == before
    assert invoke("ci.init", "--platform", platform, "--out", str(tmp_path), "--check").returncode == 0


def test_check_names_a_missing_file(tmp_path):
    proc = invoke("ci.init", "--platform", "circleci", "--out", str(tmp_path), "--check")
    assert proc.returncode == 2
    assert ".circleci/config.yml: missing" in proc.stderr
    assert not (tmp_path / ".circleci").exists()


@pytest.mark.parametrize(("args", "fragment"), [
    ((), "--platform is required"),
    (("--platform", "travis"), "unknown CI platform 'travis'"),
    (("--platform", "github", "--jobs", "test,canary"), "(unknown: canary)"),
])
def test_bad_input_exits_2_with_one_paragraph(args, fragment, tmp_path):
    proc = invoke("ci.init", *args, "--out", str(tmp_path))
    assert proc.returncode == 2
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_ci_test_runs_the_configured_command_and_keeps_its_exit_code(tmp_path):
    (tmp_path / "tasks.py").write_text("from agentrun_tasks.tasks import ns  # noqa: F401\n")
    (tmp_path / "invoke.yaml").write_text("ci:\n  test_command: python -c 'import sys; sys.exit(3)'\n")
    assert invoke("ci.test", cwd=tmp_path).returncode == 3
    (tmp_path / "invoke.yaml").write_text("ci:\n  test_command: python -c 'print(42)'\n")
    proc = invoke("ci.test", cwd=tmp_path)
    assert proc.returncode == 0
    assert "42" in proc.stdout


def _names(requirements: list[str]) -> set[str]:
    """The names of the requirements this Python installs: the locks are compiled from here on
    (uv's --universal starts at the running Python), so ``tomli; python_version < '3.11'`` is not in them."""
    wanted = [Requirement(r) for r in requirements]
    return {canonicalize_name(r.name) for r in wanted if r.marker is None or r.marker.evaluate()}


def _locked(name: str) -> set[str]:
    return {line.split("==")[0].lower().replace("_", "-").replace(".", "-")
            for line in (ROOT / name).read_text().splitlines() if "==" in line}


def test_the_runtime_lock_has_no_test_tools_and_the_test_lock_has_everything():
    """What .ci/run's drift check does with the index (compile again, compare), offline: each lock
    covers what pyproject.toml names for it, and the runtime one nothing of the test extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, test = _names(project["dependencies"]), _names(project["optional-dependencies"]["test"])
    fix = "; ".join(model.LOCK_COMMANDS)
    assert not runtime - _locked(model.RUNTIME_LOCK), f"{model.RUNTIME_LOCK} is stale: run {fix}"
    assert not (runtime | test) - _locked(model.TEST_LOCK), f"{model.TEST_LOCK} is stale: run {fix}"
    assert not test & _locked(model.RUNTIME_LOCK), "the runtime lock installs test tools into deploy jobs"
    for lock, command in zip((model.RUNTIME_LOCK, model.TEST_LOCK), model.LOCK_COMMANDS):
        assert command in (ROOT / lock).read_text().splitlines()[1], lock  # made by the command the header names


def test_generated_files_reference_secrets_and_never_hold_them(tmp_path):
    # The keys in the environment of the generating shell must not end up in a pipeline file.
    sentinel = "SENTINEL-ci-init-4b3a2c1d0e9f"
    proc = subprocess.run([sys.executable, "-m", "invoke", "ci.init", "--platform", "github", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=clean_environ(ALIYUN_ACCESS_KEY_SECRET_PROD=sentinel, ALIYUN_ACCESS_KEY_SECRET_DEV=sentinel,
                                            GITHUB_TOKEN=sentinel, JENKINS_TOKEN=sentinel))
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / ".github" / "workflows" / "agentrun.yml").read_text()
    assert "${{ secrets.ALIYUN_ACCESS_KEY_SECRET_PROD }}" in text
    assert sentinel not in text + proc.stdout + proc.stderr
    assert (tmp_path / ".github" / "workflows" / "agentrun.yml").stat().st_mode & 0o777 == 0o644


def test_check_notices_when_the_prod_sinks_change(tmp_path):
    """The rotate job binds the tokens envs/prod.yaml's sinks read: a new sink makes --check fail."""
    (tmp_path / "tasks.py").write_text("from agentrun_tasks.tasks import ns  # noqa: F401\n")
    (tmp_path / "envs").mkdir()
    prod = (ROOT / "envs" / "prod.yaml").read_text()
    (tmp_path / "envs" / "prod.yaml").write_text(prod)
    for name in ("pyproject.toml", "requirements.lock", "requirements-test.lock"):  # what the jobs install
        (tmp_path / name).write_text((ROOT / name).read_text())
    assert invoke("ci.init", "--platform", "github", cwd=tmp_path).returncode == 0
    assert invoke("ci.init", "--platform", "github", "--check", cwd=tmp_path).returncode == 0
    sinks = prod.replace("credentials:\n", "credentials:\n  sinks:\n    - {type: github, repo: org/app, "
                         "environment: prod-rotation}\n", 1)
    assert sinks != prod
    # Read as written: a variable the environment needs (unset here) does not stop the generator.
    sinks = sinks.replace("agent:\n", "agent:\n  runtime_tag: ${env('AGENTRUN_UNSET_IN_THIS_TEST')}\n", 1)
    (tmp_path / "envs" / "prod.yaml").write_text(sinks)
    check = invoke("ci.init", "--platform", "github", "--check", cwd=tmp_path)
    assert check.returncode == 2, check.stderr
    assert ".github/workflows/agentrun.yml: out of date" in check.stderr, check.stderr
    assert invoke("ci.init", "--platform", "github", "--force", cwd=tmp_path).returncode == 0
    text = (tmp_path / ".github" / "workflows" / "agentrun.yml").read_text()
    assert "GITHUB_TOKEN: ${{ secrets.AGENTRUN_GITHUB_TOKEN }}" in text
    # A sink entry that is wrong is one paragraph, exit 2, nothing written.
    (tmp_path / "envs" / "prod.yaml").write_text(sinks.replace("type: github", "type: githb"))
    bad = invoke("ci.init", "--platform", "gitlab", cwd=tmp_path)
    assert bad.returncode == 2
    assert "Did you mean 'github'" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / ".gitlab-ci.yml").exists()
    (tmp_path / "envs" / "prod.yaml").write_text(sinks.replace("environment: prod-rotation}",
                                                               "environment: prod-rotation, token_env: \"${env('T')}\"}"))
    templated = invoke("ci.init", "--platform", "gitlab", cwd=tmp_path)
    assert templated.returncode == 2
    assert "write the name itself" in templated.stderr
