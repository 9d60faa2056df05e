"""Journeys: a user's whole path through several features, as real ``invoke`` processes on the
embedded AgentRun, in a throw-away copy of this project (``agentrun_tasks.testing.project``).
Each journey is one test: its steps depend on each other, as the user's do."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun_tasks.testing.project import Project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path):
    with Project.throwaway(REPO, tmp_path / "project") as copy:
        yield copy


def ok(proc) -> str:
    """The output of a step that must succeed (else the failure shows both streams)."""
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr}{proc.stdout}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout
