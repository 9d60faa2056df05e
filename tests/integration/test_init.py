"""`agentrun-tasks init` as a user runs it, in an empty folder and on the guide's s.yaml files,
followed by a real `invoke deploy` on the emulator."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentrun_tasks.core.config import load_env
from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.testing.project import clean_environ

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "syaml" / "corpus"
CLI = [sys.executable, "-m", "agentrun_tasks"]  # the agentrun-tasks console script's module


def run(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*args], cwd=root, env=clean_environ(), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "app"
    root.mkdir()
    try:
        yield root
    finally:
        lifecycle.stop(root)


def test_init_from_the_guides_s_yaml_files_then_deploy_works(folder):
    shutil.copy(CORPUS / "guide-dev" / "s.dev.yaml", folder)
    shutil.copy(CORPUS / "guide-prod" / "s.prod.yaml", folder)
    made = run(folder, *CLI, "init", "--from", "s.prod.yaml", "--from", "s.dev.yaml", "--no-locks")
    assert made.returncode == 0, made.stderr
    assert (folder / "code" / "app.py").is_file()  # s.dev.yaml's ./code did not exist
    environ = {"MODEL_API_KEY": "sk-x", "GITHUB_SHA": "abc"}
    for env in ("local", "dev", "prod"):  # every env file it wrote loads and validates
        cfg = load_env(env, root=folder, environ=environ)
        assert cfg.agent_name == ("my-agent" if env == "prod" else "my-agent-dev")
    assert load_env("prod", root=folder, environ=environ).agent["code"]["ossObjectName"] == "agent-code-abc.zip"
    deployed = run(folder, sys.executable, "-m", "invoke", "deploy", timeout=240)
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    assert "/agent-runtimes/my-agent-dev/endpoints/prod/invocations" in deployed.stdout


def test_init_never_overwrites_without_force_and_inline_is_valid(folder):
    assert run(folder, *CLI, "init", "--no-locks").returncode == 0
    (folder / "envs" / "dev.yaml").write_text("# mine\n")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    again = run(folder, *CLI, "init", "--no-locks")
    assert again.returncode == 2
    assert "tasks.py already exists (and" in again.stderr
    assert "Traceback" not in again.stderr
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    shutil.copy(CORPUS / "guide-dev" / "s.dev.yaml", folder / "s.yaml")
    forced = run(folder, *CLI, "init", "--from", "s.yaml=staging", "--inline", "--force", "--no-locks")
    assert forced.returncode == 0, forced.stderr
    staging = load_env("staging", root=folder, environ={})
    assert staging.agent["cpu"] == 0.5
    assert staging.region == "cn-hangzhou"
    assert staging.s_yaml is None
    assert (folder / ".gitignore").read_text().count(".agentrun/") == 1
    missing = run(folder, *CLI, "init", "--from", "nope.yaml", "--force", "--no-locks")
    assert missing.returncode == 2
    assert "nope.yaml does not exist" in missing.stderr
