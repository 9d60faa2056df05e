"""A throw-away copy of this repository's project in tmp, with the emulator it starts stopped
afterwards. The helpers live in :mod:`agentrun_tasks.testing.project` (benchmarks use them too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.testing.project import Project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path):
    project = Project.copy(REPO, tmp_path / "project")
    try:
        yield project
    finally:
        lifecycle.stop(project.root)
