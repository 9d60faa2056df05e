"""invoke release / rollback / promote / history against the emulator, with short intervals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from agentrun_tasks.testing.project import chat, clean_environ


def first_release(project) -> dict:
    result = project.invoke_json("release")
    assert result["candidate"] == "1"
    assert result["result"] == "first-release"
    return result


def weights(endpoint: dict) -> dict:
    routing = endpoint.get("routingConfiguration") or {}
    return {w["version"]: w["weight"] for w in routing.get("versionWeights") or []}


def test_a_healthy_candidate_goes_from_5_to_100_percent_and_is_promoted(project):
    project.configure_release()
    first_release(project)
    project.set_greeting("Hello from version 2")
    proc = project.invoke("release")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for step in ("step 5%", "step 25%", "step 50%", "step 100%", "promoted version 2 to 100%"):
        assert step in proc.stdout
    assert "metric" in proc.stdout
    assert "error rate vs stable" in proc.stdout
    endpoint = project.invoke_json("endpoint.get")
    assert endpoint["targetVersion"] == "2"
    assert endpoint["weights"] == {}
    _, headers, body = chat(endpoint["url"])
    assert headers["x-agentrun-version"] == "2"
    assert body["choices"][0]["message"]["content"].startswith("Hello from version 2")
    entries = project.invoke_json("history")
    assert [(e["from_version"], e["to_version"], e["result"]) for e in entries] == [(None, "1", "ok"), ("1", "2", "ok")]


def test_a_candidate_with_50_percent_errors_is_rolled_back_at_the_first_step(project):
    project.configure_release(interval="4s")
    first_release(project)
    # 50%, not 30%: at 5% of the traffic the gate must decide within the step every time (30% missed ~3%)
    project.configure_release(agent_env={"AGENT_FAULT_RATE": "0.5"})
    proc = project.invoke("release", "--json")
    assert proc.returncode == 4, proc.stderr + proc.stdout
    assert "failed at 5%" in proc.stderr
    assert "max_error_rate" in proc.stderr
    assert "step 25%" not in proc.stderr
    report = json.loads(proc.stdout)  # the analysis and the rollback time, for CI, even on exit 4
    assert report["result"] == "rolled-back"
    assert report["rollback_seconds"] > 0
    assert [s["weight"] for s in report["steps"]] == [0.05]
    assert report["steps"][0]["result"] == "fail"
    endpoint = project.invoke_json("endpoint.get")
    assert endpoint["targetVersion"] == "1"
    assert endpoint["weights"] == {}
    again = project.invoke("release")
    assert again.returncode == 2
    assert "failed a release" in again.stderr
    assert "--force" in again.stderr
    assert project.invoke_json("history")[-1]["result"] == "rolled-back"


def test_a_candidate_500ms_slower_is_rolled_back_by_the_latency_gate(project):
    project.configure_release(interval="3s")
    first_release(project)
    project.configure_release(agent_env={"AGENT_LATENCY_MS": "500"})
    proc = project.invoke("release")
    assert proc.returncode == 4, proc.stderr + proc.stdout
    assert "latency" in proc.stderr
    assert "failed at 5%" in proc.stderr
    assert project.invoke_json("endpoint.get")["targetVersion"] == "1"


def wait_for_canary(project, version: str, at_least: float) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        endpoint = project.endpoint_state()
        if endpoint and weights(endpoint).get(version, 0) >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError(f"the release never gave version {version} {at_least:.0%}")


def kill_second_release_at(project, weight: float) -> None:
    """Release version 1, then kill the release of version 2 once it has ``weight`` of the traffic."""
    project.configure_release(interval="3s")
    first_release(project)
    project.set_greeting("Second")
    with project.background("release") as child:
        wait_for_canary(project, "2", weight)
        os.killpg(child.pid, signal.SIGKILL)


def test_a_release_killed_during_a_step_finishes_when_rerun(project):
    kill_second_release_at(project, 0.25)
    assert weights(project.endpoint_state()).get("2", 0) >= 0.25  # left mid-rollout
    rerun = project.invoke("release")
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    assert "step 5%" not in rerun.stdout
    assert "promoted version 2 to 100%" in rerun.stdout
    assert project.invoke_json("endpoint.get")["targetVersion"] == "2"


def test_a_concurrent_second_release_is_refused_with_exit_7(project):
    project.configure_release(interval="3s")
    first_release(project)
    project.set_greeting("Second")
    with project.background("release") as child:
        wait_for_canary(project, "2", 0.05)
        second = project.invoke("release")
        assert second.returncode == 7, second.stderr + second.stdout
        assert "locked by" in second.stderr
        assert "--force" in second.stderr
        assert child.wait(timeout=120) == 0


def test_rollback_and_promote_flip_a_canary_in_one_write(project):
    project.configure_release()
    first_release(project)
    project.set_greeting("Second")
    project.invoke_json("deploy")
    assert project.invoke_json("version.publish")["version"] == "2"
    project.invoke_json("endpoint.publish", "--target-version", "1", "--canary-version", "2", "--weight", "0.25")
    promoted = project.invoke_json("promote")
    assert {k: promoted[k] for k in ("env", "from", "to")} == {"env": "local", "from": "1", "to": "2"}
    assert promoted["url"] == project.invoke_json("endpoint.get")["url"]
    back = project.invoke_json("rollback")  # no split now: back to the version before, from history
    assert back["to"] == "1"
    assert project.invoke_json("endpoint.get")["targetVersion"] == "1"
    kinds = [e["kind"] for e in project.invoke_json("history")]
    assert kinds == ["release", "promote", "rollback"]
    again = project.invoke("rollback")  # not back to 2, the version the last rollback left
    assert again.returncode == 0, again.stderr + again.stdout
    assert "already rolled back" in again.stdout, again.stderr + again.stdout
    assert project.invoke_json("endpoint.get")["targetVersion"] == "1"
    assert len(project.invoke_json("history")) == 3
    refused = project.invoke("release", "--version", "2")  # the version left is marked failed
    assert refused.returncode == 2
    assert "failed a release" in refused.stderr
    project.invoke_json("endpoint.publish", "--target-version", "1", "--canary-version", "2", "--weight", "0.25")
    refused = project.invoke("promote")  # nor promoted by hand
    assert refused.returncode == 2
    assert "failed a release" in refused.stderr
    assert project.invoke_json("rollback")["to"] == "1"
    last = project.invoke_json("history")[-1]
    assert (last["kind"], last["from_version"], last["to_version"]) == ("rollback", "2", "1")  # the canary left


def test_blue_green_verifies_the_idle_colour_then_switches(project):
    project.configure_release(strategy="blue-green")
    first = project.invoke_json("release")
    assert first["candidate"] == "1"
    assert first["result"] == "switched"
    assert first["rollback_to"] is None
    project.set_greeting("Green")
    result = project.invoke_json("release")
    assert result["result"] == "switched"
    assert result["rollback_to"] == "1"
    endpoints = {e["name"]: e["targetVersion"] for e in project.invoke_json("endpoint.list")}
    assert endpoints["prod"] == "2"
    assert sorted(v for k, v in endpoints.items() if k in ("prod-blue", "prod-green")) == ["1", "2"]


def test_a_release_killed_during_its_deploy_waits_for_that_deploy_when_rerun(project):
    project.configure_release()
    hold = project.hold_agent_start()
    with project.background("release") as child:
        project.wait_for_state('"CREATING"')
        os.killpg(child.pid, signal.SIGKILL)
    rerun = subprocess.Popen([sys.executable, "-m", "invoke", "release"], cwd=project.root, env=clean_environ(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        seen = []
        for line in rerun.stdout:  # the runtime is still CREATING: the rerun must wait, not exit 7
            seen.append(line)
            if "waiting for the other deploy" in line:
                hold.unlink()
                break
        out, err = rerun.communicate(timeout=180)
    finally:
        if rerun.poll() is None:
            os.killpg(rerun.pid, signal.SIGKILL)
            rerun.wait(timeout=30)
    assert not hold.exists(), "".join(seen) + out + err
    assert rerun.returncode == 0, "".join(seen) + out + err
    assert "first release: version 1 now serves 100%" in out


def test_a_killed_release_leaves_a_running_record_a_later_rollback_can_use(project):
    kill_second_release_at(project, 0.05)
    last = project.invoke_json("history")[-1]
    assert (last["from_version"], last["to_version"], last["result"], last["finished_at"]) == ("1", "2", "running",
                                                                                               None)
    # As if it had been killed right after its promotion: the history still says where 2 came from.
    project.invoke_json("endpoint.publish", "--target-version", "2")
    assert project.invoke_json("rollback")["to"] == "1"


def test_a_release_whose_deploy_fails_its_health_check_is_recorded_failed_and_json_says_why(project):
    app = project.root / "code" / "app.py"
    app.write_text(app.read_text().replace('os.environ.get("AGENT_FAULT_RATE", "0")', '"1"'))
    env_file = project.root / "envs" / "local.yaml"
    env_file.write_text(env_file.read_text().replace("timeout: 60s", "timeout: 3s"))
    proc = project.invoke("release", "--json")
    assert proc.returncode == 4, proc.stderr + proc.stdout
    assert "health check" in json.loads(proc.stdout)["error"]
    (entry,) = project.invoke_json("history")
    assert (entry["result"], entry["to_version"]) == ("failed", None)
    assert entry["finished_at"]
