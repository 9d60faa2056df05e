"""A throw-away copy of this repository's project in tmp, with the emulator it starts stopped
afterwards. The helpers live in :mod:`agentrun_tasks.testing.project` (benchmarks use them too)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.testing.project import Project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path):
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "code", root / "code", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "envs", root / "envs")
    shutil.copy(REPO / "tasks.py", root / "tasks.py")
    try:
        yield Project(root)
    finally:
        lifecycle.stop(root)
