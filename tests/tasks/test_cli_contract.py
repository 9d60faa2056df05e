"""The exit-code contract at the command line, driven as a user drives it: real ``invoke`` (and
``agentrun-tasks``) processes in a scratch project. Usage errors exit 2 in one paragraph, errors
under ``--json`` are one JSON document on stdout, and the project is where ``tasks.py`` is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AGENT = "agent:\n  name: demo\n  code: {src: code, language: python3.12, command: [python3, app.py]}\n"
CI = {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "envs").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "tasks.py").write_text("from agentrun_tasks.tasks import ns  # noqa: F401\n")
    (root / "envs" / "prod.yaml").write_text("region: cn-hangzhou\n" + AGENT)
    (root / "envs" / "local.yaml").write_text("region: cn-hangzhou\nemulator: true\n" + AGENT)
    return root


def run(cwd: Path, *args: str, program: str = "invoke", **extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "LANG": "C.UTF-8",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **extra}
    module = "invoke" if program == "invoke" else "agentrun_tasks"
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def one_paragraph(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("args", [("deploy", "--foo"), ("history", "--limit"), ("nosuch-task",)],
                         ids=["unknown-flag", "flag-without-value", "unknown-task"])
def test_parser_usage_errors_exit_2_under_agentrun_tasks(project, args):
    proc = run(project, *args, program="agentrun-tasks")
    assert proc.returncode == 2
    assert one_paragraph(proc).startswith("error: ")


@pytest.mark.parametrize("value", ["abc", "-1", "0"])
def test_history_limit_is_validated_under_plain_invoke(project, value):
    proc = run(project, "history", "--limit", value)
    assert proc.returncode == 2
    assert "--limit" in one_paragraph(proc)
    assert not (project / ".agentrun").exists()  # refused before anything started


@pytest.mark.parametrize("where", [{}, CI], ids=["laptop", "ci"])
@pytest.mark.parametrize("value", ["", "   "], ids=["empty", "blank"])
def test_an_empty_env_name_is_bad_input_not_the_branch_default(project, where, value):
    proc = run(project, "credentials.show", "--env", value, **where)
    assert proc.returncode == 2
    assert "--env" in one_paragraph(proc)


def test_errors_under_json_are_one_document_on_stdout(project):
    proc = run(project, "credentials.show", "--env", "nosuch", "--json")
    assert proc.returncode == 2
    document = json.loads(proc.stdout)
    assert document["exit_code"] == 2
    assert "nosuch" in document["error"]
    assert document["hint"]
    missing = run(project, "credentials.show", "--env", "prod", "--json")
    document = json.loads(missing.stdout)
    assert missing.returncode == 3
    assert document["exit_code"] == 3
    assert "ALIYUN_ACCESS_KEY_ID_PROD" in document["hint"]
    assert document["found"] is False
    assert document["tried"]


def test_invoke_r_uses_that_project_from_anywhere(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        up = run(elsewhere, "-r", str(project), "local.up")
        assert up.returncode == 0, up.stderr
        assert (project / ".agentrun" / "local").is_dir()
        assert (project / ".env.local").exists()
        assert not (elsewhere / ".agentrun").exists()
        assert not (elsewhere / ".env.local").exists()
    finally:
        down = run(elsewhere, "-r", str(project), "local.down")
    assert "stopped" in down.stdout


def test_agentrun_root_is_relative_to_the_tasks_py_folder(project, tmp_path):
    other = project / "deploy"
    (other / "envs").mkdir(parents=True)
    (other / "envs" / "special.yaml").write_text("region: cn-hangzhou\n" + AGENT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run(elsewhere, "-r", str(project), "credentials.show", "--env", "special", "--json",
               INVOKE_AGENTRUN_ROOT="deploy")
    assert proc.returncode == 3, proc.stderr  # the env file was found and loaded; only the key is missing
    assert json.loads(proc.stdout)["env"] == "special"


def test_local_tasks_say_what_they_do(project):
    try:
        first = run(project, "local.up")
        assert first.returncode == 0, first.stderr
        port = int(first.stdout.split("127.0.0.1:")[1].split()[0])
        again = run(project, "local.up", "--port", str(port + 1 if port < 65535 else port - 1))
        assert again.returncode == 0
        assert "was not used" in again.stderr
        run(project, "local.down")
        info = run(project, "info", "--env", "local")
        assert "starting the local emulator" in info.stdout  # a read task never starts it silently
        removed = run(project, "remove", "--env", "local", "--yes")
        assert removed.returncode == 0
        assert "nothing to remove" in removed.stdout
        assert "[" not in removed.stdout
    finally:
        run(project, "local.down")


def test_a_usage_error_under_json_is_one_document_too(project):
    proc = run(project, "deploy", "--foo", "--json", program="agentrun-tasks")
    assert proc.returncode == 2
    document = json.loads(proc.stdout)
    assert document["exit_code"] == 2
    assert "--foo" in document["error"]
    assert document["hint"]
