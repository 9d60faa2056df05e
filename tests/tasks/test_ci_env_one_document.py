"""`invoke ci.env --json` prints exactly one JSON document on stdout, also when it refuses the
branch or tag (no environment can be chosen): the error document carries what was
detected; the paragraph goes to stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentrun_tasks.testing.project import clean_environ

ROOT = Path(__file__).resolve().parents[2]
GITHUB = {"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_SHA": "b" * 40}


@pytest.mark.parametrize(("variables", "args"), [
    ({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/weird", "GITHUB_REF_NAME": "weird"}, ()),
    ({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/tags/release-1", "GITHUB_REF_NAME": "release-1",
      "GITHUB_REF_TYPE": "tag"}, ()),
], ids=["unmapped-branch", "unmapped-tag"])
def test_one_document_when_refused(variables, args):
    proc = subprocess.run([sys.executable, "-m", "invoke", "ci.env", "--json", *args], cwd=ROOT,
                          env=clean_environ(**GITHUB, **variables), capture_output=True, text=True, timeout=60)
    document, end = json.JSONDecoder().raw_decode(proc.stdout)
    assert proc.stdout[end:].strip() == ""  # nothing after the one document
    assert proc.returncode == 2 == document["exit_code"]
    assert document["platform"] == "github"
    assert proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
