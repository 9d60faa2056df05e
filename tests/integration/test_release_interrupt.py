"""What interrupts a release: Ctrl-C, a CI cancel (SIGTERM), a kill, a deploy racing it. Real
``invoke`` processes against the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from agentrun_tasks.testing.project import chat, clean_environ

from .test_release import first_release, kill_second_release_at, wait_for_canary


def start(project, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=project.root, env=clean_environ(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def finish(child: subprocess.Popen, timeout: float = 120) -> tuple[str, str]:
    try:
        return child.communicate(timeout=timeout)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_release_puts_stable_back_records_aborted_and_frees_the_lock(project, signum, code):
    project.configure_release(interval="3s")
    first_release(project)
    project.set_greeting("Second")
    child = start(project, "release")
    try:
        wait_for_canary(project, "2", 0.05)
        os.kill(child.pid, signum)
    finally:
        out, err = finish(child)
    assert child.returncode == code, out + err
    assert "Traceback" not in err
    assert f"aborted by {signal.Signals(signum).name}" in out
    endpoint = project.invoke_json("endpoint.get")
    assert (endpoint["targetVersion"], endpoint["weights"]) == ("1", {})
    assert project.state_object("locks/local.json") is None
    last = project.invoke_json("history")[-1]
    assert (last["from_version"], last["to_version"], last["result"]) == ("1", "2", "aborted")
    assert last["finished_at"]
    assert signal.Signals(signum).name in last["reason"]


def test_a_rerun_that_takes_the_lock_closes_the_killed_runs_record_as_interrupted(project):
    kill_second_release_at(project, 0.05)
    assert project.invoke_json("history")[-1]["result"] == "running"
    rerun = project.invoke("release")
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    results = [(e["to_version"], e["result"]) for e in project.invoke_json("history")]
    assert results == [("1", "ok"), ("2", "interrupted"), ("2", "ok")]


def test_a_deploy_while_a_release_waits_for_its_runtime_is_refused_and_the_release_ships_its_own_code(project):
    project.configure_release(interval="1s")
    first_release(project)
    project.set_greeting("Code A")
    hold = project.hold_agent_start()
    release = start(project, "release", "--json")
    try:
        project.wait_for_state('"UPDATING"')  # the release's deploy of A waits for the agent to start
        project.set_greeting("Code B")
        racing = project.invoke("deploy", "--wait", timeout=60)
        assert racing.returncode == 7, racing.stderr + racing.stdout
        assert "locked by" in racing.stderr
        assert "--force" in racing.stderr
        hold.unlink()
    finally:
        out, err = finish(release)
    assert release.returncode == 0, out + err
    result = json.loads(out)
    assert result["candidate"] == "2"
    assert result["url"]
    _, headers, body = chat(result["url"])
    assert headers["x-agentrun-version"] == "2"
    assert body["choices"][0]["message"]["content"].startswith("Code A")
