"""`invoke ci.env | head -1`: a reader that closes the pipe early is a normal end of output (no
traceback, no "a bug in agentrun-tasks"), and the task still finishes with its own exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentrun_tasks.testing.project import clean_environ

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args", [("ci.env",), ("ci.env", "--json")])
def test_a_closed_stdout_ends_quietly(args):
    child = subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=clean_environ(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    child.stdout.close()  # as `head -1` does once it has its line (here: before the first one)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert err.decode() == ""


def test_head_keeps_the_first_line_and_the_shell_sees_no_error():
    proc = subprocess.run(f"{sys.executable} -m invoke ci.env | head -1", shell=True, cwd=ROOT, env=clean_environ(),
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("platform")
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr
    assert "a bug" not in proc.stderr
