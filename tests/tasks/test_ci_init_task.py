"""``invoke ci.init`` and ``invoke ci.test`` as real processes: writing, refusing to overwrite,
--check, bad input; this repository's own workflow is what the command generates; the lock
file the pipelines install from covers every dependency pyproject.toml names."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from agentrun_tasks.testing.project import clean_environ

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd, env=clean_environ(),
                          capture_output=True, text=True, timeout=60)


def test_this_repositorys_workflow_is_up_to_date():
    proc = invoke("ci.init", "--platform", "github", "--jobs", "test", "--check")
    assert proc.returncode == 0, proc.stderr
    assert "up to date: .github/workflows/agentrun.yml" in proc.stdout


@pytest.mark.parametrize("platform, paths", [
    ("gitlab", [".gitlab-ci.yml"]), ("jenkins", ["Jenkinsfile"]),
    ("yunxiao", [".yunxiao/ci.yml", ".yunxiao/release.yml", ".yunxiao/rotate-keys.yml"]),
])
def test_writes_refuses_to_overwrite_and_checks(platform, paths, tmp_path):
    proc = invoke("ci.init", "--platform", platform, "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert all((tmp_path / p).is_file() for p in paths)
    before = {p: (tmp_path / p).read_text() for p in paths}
    (tmp_path / paths[0]).write_text(before[paths[0]] + "# a hand edit\n")

    again = invoke("ci.init", "--platform", platform, "--out", str(tmp_path))
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert str(tmp_path / paths[0]) in again.stderr and "--force" in again.stderr
    assert (tmp_path / paths[0]).read_text().endswith("# a hand edit\n")  # nothing was written

    check = invoke("ci.init", "--platform", platform, "--out", str(tmp_path), "--check")
    assert check.returncode == 2 and f"{paths[0]}: out of date (+0 -1 lines" in check.stderr

    forced = invoke("ci.init", "--platform", platform, "--out", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert {p: (tmp_path / p).read_text() for p in paths} == before
    assert invoke("ci.init", "--platform", platform, "--out", str(tmp_path), "--check").returncode == 0


def test_check_names_a_missing_file(tmp_path):
    proc = invoke("ci.init", "--platform", "circleci", "--out", str(tmp_path), "--check")
    assert proc.returncode == 2 and ".circleci/config.yml: missing" in proc.stderr
    assert not (tmp_path / ".circleci").exists()


@pytest.mark.parametrize("args, fragment", [
    ((), "--platform is required"),
    (("--platform", "travis"), "unknown CI platform 'travis'"),
    (("--platform", "github", "--jobs", "test,canary"), "(unknown: canary)"),
])
def test_bad_input_exits_2_with_one_paragraph(args, fragment, tmp_path):
    proc = invoke("ci.init", *args, "--out", str(tmp_path))
    assert proc.returncode == 2 and fragment in proc.stderr
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []


def test_ci_test_runs_the_configured_command_and_keeps_its_exit_code(tmp_path):
    (tmp_path / "tasks.py").write_text("from agentrun_tasks.tasks import ns  # noqa: F401\n")
    (tmp_path / "invoke.yaml").write_text("ci:\n  test_command: python -c 'import sys; sys.exit(3)'\n")
    assert invoke("ci.test", cwd=tmp_path).returncode == 3
    (tmp_path / "invoke.yaml").write_text("ci:\n  test_command: python -c 'print(42)'\n")
    proc = invoke("ci.test", cwd=tmp_path)
    assert proc.returncode == 0 and "42" in proc.stdout


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-") for r in requirements}


def test_the_lock_file_covers_every_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"] + project["optional-dependencies"]["test"])
    locked = {line.split("==")[0].lower().replace("_", "-").replace(".", "-")
              for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line}
    missing = sorted(wanted - locked)
    assert not missing, (f"requirements.lock lacks {missing}: run "
                         "`uv pip compile pyproject.toml --extra test --universal -o requirements.lock`")


def test_generated_files_reference_secrets_and_never_hold_them(tmp_path):
    # The keys in the environment of the generating shell must not end up in a pipeline file.
    sentinel = "SENTINEL-ci-init-4b3a2c1d0e9f"
    proc = subprocess.run([sys.executable, "-m", "invoke", "ci.init", "--platform", "github", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=clean_environ(ALIYUN_ACCESS_KEY_SECRET_PROD=sentinel, ALIYUN_ACCESS_KEY_SECRET_DEV=sentinel))
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / ".github" / "workflows" / "agentrun.yml").read_text()
    assert "${{ secrets.ALIYUN_ACCESS_KEY_SECRET_PROD }}" in text
    assert sentinel not in text + proc.stdout + proc.stderr
    assert (tmp_path / ".github" / "workflows" / "agentrun.yml").stat().st_mode & 0o777 == 0o644
