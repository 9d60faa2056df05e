"""The tasks against the strict emulator with cloud-like latencies, scaled down (``latency=0.2``:
an endpoint write takes 0.2 s, a runtime update 0.6 s more than its process start): the
behaviour under test is the order of states, not the durations."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

from agentrun_tasks.emulator import admin
from agentrun_tasks.testing.project import chat, clean_environ

CLOUD_LIKE = clean_environ(AGENTRUN_EMULATOR_FAULTS="latency=0.2")


def run(project, *args: str, code: int = 0):
    proc = project.invoke(*args, env=CLOUD_LIKE)
    assert proc.returncode == code, proc.stderr + proc.stdout
    return proc


def run_json(project, *args: str) -> dict:
    return json.loads(run(project, *args, "--json").stdout)


def set_faults(project, **settings) -> None:
    info = json.loads((project.root / ".agentrun" / "local" / "emulator.json").read_text())
    request = urllib.request.Request(f"{info['url']}/_emulator/faults", data=json.dumps(settings).encode(),
                                     method="POST", headers={"content-type": "application/json",
                                                             **admin.plain(admin.headers(project.root))})
    urllib.request.urlopen(request, timeout=5).close()


def test_deploy_list_restart_release_and_rollback_at_cloud_like_latencies(project):
    project.configure_release(steps="[0.5, 1.0]", interval="2s")
    deployed = run_json(project, "deploy")
    url = deployed["url"]
    assert chat(url)[0] == 200
    assert {e["status"] for e in run_json(project, "endpoint.list")} == {"READY"}

    run(project, "local.down")
    run(project, "local.up")
    assert chat(url)[0] == 200  # the URL printed by deploy answers after a restart

    assert run_json(project, "release")["result"] == "first-release"
    project.set_greeting("Hello from version 2")
    released = run_json(project, "release")
    assert released["result"] == "promoted"
    assert run_json(project, "endpoint.get")["traffic"] == {"2": 1.0}

    run_json(project, "endpoint.publish", "--target-version", "1", "--canary-version", "2", "--weight", "0.35")
    split = run_json(project, "endpoint.get")
    assert split["weights"] == {"2": 0.35}
    assert split["status"] == "READY"
    assert run_json(project, "rollback")["to"] == "1"
    back = run_json(project, "endpoint.get")
    assert back["traffic"] == {"1": 1.0}
    assert back["status"] == "READY"

    # A platform that keeps the split an empty versionWeights should clear: rollback says so, exit 5.
    run_json(project, "endpoint.publish", "--target-version", "1", "--canary-version", "2", "--weight", "0.35")
    set_faults(project, sticky_split=1)
    proc = run(project, "rollback", code=5)
    assert "did not apply" in proc.stderr


def test_a_faulty_candidate_is_rolled_back_at_cloud_like_latencies(project):
    project.configure_release(steps="[0.5, 1.0]", interval="3s")
    run_json(project, "release")
    project.configure_release(agent_env={"AGENT_FAULT_RATE": "0.6"})
    proc = run(project, "release", code=4)
    assert "rolled back" in proc.stdout + proc.stderr
    assert run_json(project, "endpoint.get")["traffic"] == {"1": 1.0}


def test_a_rollback_issued_while_a_deploy_updates_the_runtime_leaves_100_percent_on_stable(project):
    project.configure_release()
    run_json(project, "release")
    project.set_greeting("Second")
    run_json(project, "deploy")
    run_json(project, "version.publish")
    run_json(project, "endpoint.publish", "--target-version", "1", "--canary-version", "2", "--weight", "0.25")
    hold = project.hold_agent_start()  # the next deploy stays UPDATING until the hold goes
    with project.background("deploy", "--wait") as deploy:
        project.wait_for_state('"UPDATING"')
        threading.Timer(1.5, hold.unlink).start()  # the runtime becomes READY while rollback waits
        started = time.monotonic()
        rolled = run_json(project, "rollback")
        assert rolled["to"] == "1"
        assert time.monotonic() - started >= 1.0
        deploy.wait(120)
    endpoint = run_json(project, "endpoint.get")
    assert endpoint["traffic"] == {"1": 1.0}
    assert endpoint["status"] == "READY"
