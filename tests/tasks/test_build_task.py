"""``invoke build``: the real CLI in a subprocess, on a throwaway project with its own envs/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from agentrun_tasks.core import build as core

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = "SENTINEL-build-task-4c1d2e"
ENV_YAML = """\
region: cn-hangzhou
driver: openapi
agent:
  name: build-task-test
  code: {src: code, language: python3.12, command: [python3, app.py]}
"""


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "dev.yaml").write_text(ENV_YAML)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text("GREETING = 'hello'\n")
    (tmp_path / "code" / "requirements.txt").write_text("# standard library only\n")
    (tmp_path / "code" / ".env").write_text(f"TOKEN={SENTINEL}\n")  # must never be packaged
    # The library's task module on its own, so this test does not depend on the root collection.
    (tmp_path / "tasks.py").write_text("from agentrun_tasks.tasks.build import ns  # noqa: F401\n")
    return tmp_path


def invoke(project: Path, *args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    environ = {"PATH": os.environ["PATH"], "HOME": str(project), "LANG": "C.UTF-8",
               "PYTHONPATH": str(ROOT), "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull,
               "PIP_FIND_LINKS": str(project / "wheels"), "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SENTINEL,
               **(extra or {})}
    proc = subprocess.run([sys.executable, "-m", "invoke", "build", "--env", "dev", *args], cwd=project,
                          env=environ, capture_output=True, text=True, timeout=120)
    assert SENTINEL not in proc.stdout + proc.stderr
    return proc


def test_build_then_reuse_then_force(project):
    first = invoke(project)
    assert first.returncode == 0, first.stderr
    lines = dict(line.split(None, 1) for line in first.stdout.splitlines() if line.startswith(("package", "sha256", "crc64", "status")))
    path = Path(lines["package"])
    assert path.parent == project / ".agentrun" / "build" / "dev"
    assert path.is_file()
    sha, crc, _ = core.file_digests(path)
    assert (lines["sha256"], lines["crc64"]) == (sha, crc)
    assert lines["status"].startswith("built")
    assert zipfile.ZipFile(path).namelist() == ["app.py", "requirements.txt"]

    again = invoke(project, "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert (data["status"], data["reused"], data["path"], data["sha256"]) == ("unchanged, reused", True, str(path), sha)
    assert "unchanged, reused" in again.stderr  # progress goes to stderr under --json

    before = path.read_bytes()
    forced = invoke(project, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["status"] == "built"
    assert path.read_bytes() == before


def test_requirement_without_a_wheel_exits_2_naming_it(project):
    (project / "wheels").mkdir()
    (project / "wheels" / "sdistonly-2.0.tar.gz").write_bytes(b"an sdist, which a binary-only build cannot use")
    (project / "code" / "requirements.txt").write_text("sdistonly==2.0\n")
    proc = invoke(project)
    assert proc.returncode == 2
    assert "'sdistonly'" in proc.stderr
    assert "python3.12" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((project / ".agentrun" / "build" / "dev").glob("*.zip"))
