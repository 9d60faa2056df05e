"""A mistyped task or flag gets a "did you mean" in the usage paragraph (exit 2), under plain
``invoke`` (through ``exit_2_on_usage_errors``) and under ``agentrun-tasks`` alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentrun_tasks.testing.project import clean_environ

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("entry", "argv", "says"), [
    ("invoke", ("deplyo",), "No idea what 'deplyo' is! Did you mean 'deploy'?"),
    ("agentrun_tasks", ("deploy", "--evn", "local"), "No idea what '--evn' is! Did you mean '--env'?"),
    ("invoke", ("rollback", "--to-verison", "2"), "Did you mean '--to-version'?"),
    ("invoke", ("qqqq",), "No idea what 'qqqq' is! See"),  # nothing close: no guess
])
def test_a_typo_gets_the_closest_name(entry, argv, says):
    proc = subprocess.run([sys.executable, "-m", entry, *argv], cwd=ROOT, env=clean_environ(), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert says in proc.stderr
