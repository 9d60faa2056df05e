"""Running acceptance checks: a prompt check (plain and streamed) against the example agent
itself, served in-process on a free port, and a command check's time bound, which stops the
program's whole process group."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from agentrun_tasks.adapters.acceptance import ask, execute
from agentrun_tasks.core.checks import build, judge, request_body
from agentrun_tasks.testing.loopback import serving

CODE = Path(__file__).resolve().parents[2] / "code"


@pytest.fixture
def example_agent(monkeypatch):
    """code/app.py with AGENT_FAULT_MATCH=refund, serving on 127.0.0.1:<free port>."""
    monkeypatch.setenv("AGENT_FAULT_MATCH", "refund")
    spec = importlib.util.spec_from_file_location("example_agent_for_checks", CODE / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    server = app.Server(("127.0.0.1", 0), app.Handler)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}/openai/v1/chat/completions"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_prompt_check_judges_what_the_example_agent_says(example_agent, stream):
    greets, refunds = build([
        {"name": "greets", "prompt": "你好", "stream": stream, "expect": {"contains": ["You said: 你好"]}},
        {"name": "refunds", "prompt": "a refund please", "stream": stream, "expect": {"status": 200}}])
    answer = ask(example_agent, request_body(greets, "agent"), headers={}, timeout=10)
    assert judge(greets, answer.status, answer.body, answer.latency_ms).ok
    answer = ask(example_agent, request_body(refunds, "agent"), headers={}, timeout=10)
    failed = judge(refunds, answer.status, answer.body, answer.latency_ms)
    assert not failed.ok
    assert "got HTTP 500" in failed.detail
    assert "AGENT_FAULT_MATCH" in failed.detail


def test_no_answer_is_a_failed_check_not_an_exception():
    check = build([{"name": "c", "prompt": "hi"}])[0]
    answer = ask("http://127.0.0.1:9/openai/v1/chat/completions", request_body(check, "agent"), headers={},
                 timeout=2)
    assert answer.status is None
    assert answer.error
    assert "got no answer" in judge(check, answer.status, answer.body, answer.latency_ms, answer.error).detail


def test_a_command_past_its_time_bound_is_stopped_with_its_children(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time; "
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
            f"open({str(pid_file)!r}, 'w').write(str(child.pid)); print('evals running', flush=True); "
            "time.sleep(300)")
    ran = execute([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, timeout=3)
    assert ran.returncode is None
    assert "evals running" in ran.output
    grandchild = Path(f"/proc/{pid_file.read_text()}/status")
    deadline = time.monotonic() + 30  # SIGKILL closes its files before the process is gone: let it finish dying
    while grandchild.exists() and "\nState:\tZ" not in grandchild.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not grandchild.exists() or "\nState:\tZ" in grandchild.read_text()  # killed (a zombie at most)


def test_a_command_gets_only_the_environment_it_is_given(tmp_path):
    ran = execute([sys.executable, "-c", "import os; print(sorted(os.environ))"], env={"PATH": "/usr/bin:/bin",
                  "AGENTRUN_CANDIDATE_URL": "http://x"}, cwd=tmp_path, timeout=30)
    assert ran.returncode == 0
    assert "AGENTRUN_CANDIDATE_URL" in ran.output
    assert "HOME" not in ran.output
