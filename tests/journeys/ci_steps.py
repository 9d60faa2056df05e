"""The steps of a generated CI job as the journeys run them: its lines with bash, one by one, as a
runner runs them, and the chat URL the job printed, called as printed."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request

from .conftest import ok

WORKFLOW, GITLAB_CI = ".github/workflows/agentrun.yml", ".gitlab-ci.yml"


def run_job(lines: list[str], cwd, env: dict, name: str, outputs: dict) -> str:
    """The job's lines in order with bash -e, as the runner runs a step; all of their stdout."""
    printed = ""
    for i, line in enumerate(lines):
        proc = subprocess.run(["bash", "-ec", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        outputs[f"{name} line {i + 1}"] = proc
        printed += ok(proc)
    return printed


def answers(printed: str) -> None:
    """The chat URL the job printed answers an OpenAI chat-completion POST, as printed."""
    chat_url = re.findall(r"\bchat:? +(http\S+/chat/completions)\b", printed)[-1]
    body = json.dumps({"model": "agent", "messages": [{"role": "user", "content": "hi"}]}).encode()
    posted = urllib.request.Request(chat_url, data=body, method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(posted, timeout=30) as response:
        assert json.loads(response.read())["choices"][0]["message"]["content"]
