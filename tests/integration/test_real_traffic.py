"""release.real_traffic on a cloud environment: the gates judge the release endpoint's real
requests from SLS, so a candidate that fails only what users send (never the probe's "ping") is
rolled back; without it, the probe alone promotes that candidate.

The emulator plays AgentRun (reached as a cloud control_endpoint); a shipper thread plays Function
Compute, copying the emulator's request log into a local SLS as FCRequestMetrics rows, a moment
late as FC's are; a client thread plays the users.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

import pytest

from agentrun_tasks.core import fclogs
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.project import clean_environ, cloud_env_file
from agentrun_tasks.testing.sls import LocalSls, local_sls


def cloud_env(port: int, *, fault: str, real: bool) -> str:
    return cloud_env_file(port, "traffic-demo", agent=(
        "  port: 9000\n  logConfig: {project: agent-logs, logstore: runtime}\n"
        f'  environmentVariables: {{AGENT_FAULT_MATCH: "{fault}"}}\n'), rest=(
        f"release: {{steps: [0.5, 1.0], interval: 10s, real_traffic: {str(real).lower()}, "
        "analysis: {min_requests: 10}}\n"))


@contextmanager
def running(work):
    """Run ``work(stopped)`` in a thread until the block ends."""
    stopped = threading.Event()
    thread = threading.Thread(target=work, args=(stopped,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=10)


def ship(emulator_url: str, admin_headers: dict, runtime: str, runtime_id: str, sls: LocalSls):
    """FC's part: each request the emulator served becomes an FCRequestMetrics row, half a second late."""
    def work(stopped: threading.Event) -> None:
        since, n = time.time() - 5, 0
        while not stopped.wait(0.5):
            query = urllib.parse.urlencode({"runtime": runtime, "since": since})
            request = urllib.request.Request(f"{emulator_url}/_emulator/requests?{query}", headers=admin_headers)
            with urllib.request.urlopen(request, timeout=10) as answer:
                served = json.loads(answer.read())
            rows = []
            for record in served:
                n += 1
                rows.append({"__topic__": fclogs.request_topic(runtime_id), "__time__": int(record["ts"]),
                             "invocationStartTimestamp": int(record["ts"] * 1000), "qualifier": record["endpoint"],
                             "versionId": record["version"], "statusCode": record["status"],
                             "durationMs": record["latency_ms"], "requestId": f"1-{n}"})
                since = max(since, record["ts"] + 1e-6)
            sls.put("agent-logs", "runtime", rows)
    return work


def users(url: str):
    """What users send: questions about their checkout, about 20 a second."""
    body = json.dumps({"model": "agent", "messages": [{"role": "user", "content": "my checkout fails"}]}).encode()

    def work(stopped: threading.Event) -> None:
        while not stopped.wait(0.05):
            request = urllib.request.Request(url + "/openai/v1/chat/completions", data=body,
                                             headers={"Content-Type": "application/json"})
            with contextlib.suppress(urllib.error.URLError, OSError):  # a failed request is what the gates are for
                urllib.request.urlopen(request, timeout=10).read()
    return work


@pytest.fixture
def released(project):
    """A cloud environment whose control plane is the emulator, version 1 released (a first
    release has no gates); yields the emulator and the process environment that reaches it."""
    with running_emulator(project.root / ".cloud") as cloud:
        cloud.set_faults(latency=0)
        env = clean_environ(ALIYUN_ACCESS_KEY_ID_CLOUD=cloud.access_key_id,
                            ALIYUN_ACCESS_KEY_SECRET_CLOUD=cloud.access_key_secret.reveal())
        (project.root / "envs" / "cloud.yaml").write_text(cloud_env(cloud.port, fault="", real=True))
        first = project.invoke("release", "--env", "cloud", env=env)
        assert first.returncode == 0, first.stderr
        yield cloud, env


def test_real_traffic_rolls_back_what_only_users_hit_and_the_probe_alone_promotes(project, released):
    envs, (cloud, env) = project.root / "envs" / "cloud.yaml", released
    secret = cloud.access_key_secret.reveal()
    url = project.invoke_json("endpoint.get", "--env", "cloud", env=env)["url"]
    runtime_id = project.invoke_json("info", "--env", "cloud", env=env)["runtime"]["id"]

    envs.write_text(cloud_env(cloud.port, fault="checkout", real=True))
    with local_sls({cloud.access_key_id: secret}) as sls:
        sls.put("agent-logs", "runtime", [])
        env.update(sls.proxy_env())
        with running(ship(cloud.url, cloud.admin_headers(), "traffic-demo", runtime_id, sls)), running(users(url)):
            judged = project.invoke("release", "--env", "cloud", "--json", env=env)
            assert judged.returncode == 4, judged.stderr + judged.stdout
            assert "failed at 50%" in judged.stderr
            assert "max_error_rate" in judged.stderr
            report = json.loads(judged.stdout)
            assert report["result"] == "rolled-back"
            assert report["steps"][0]["real_requests"] > 0
            assert project.invoke_json("endpoint.get", "--env", "cloud", env=env)["targetVersion"] == "1"

            envs.write_text(cloud_env(cloud.port, fault="checkout", real=False))
            probe_only = project.invoke("release", "--env", "cloud", "--force", "--json", env=env)
            assert probe_only.returncode == 0, probe_only.stderr  # "ping" never meets the fault
            assert all(step["real_requests"] is None for step in json.loads(probe_only.stdout)["steps"])
            assert project.invoke_json("endpoint.get", "--env", "cloud", env=env)["targetVersion"] == "2"
        assert any(c["action"] == "GetLogsV2" and c["body"]["reverse"] for c in sls.calls)


def test_real_traffic_that_cannot_be_read_stops_before_traffic_moves_or_puts_it_back(project, released):
    cloud, env = released
    secret = cloud.access_key_secret.reveal()
    project.set_greeting("Second")
    with local_sls({cloud.access_key_id: secret}) as sls:
        env.update(sls.proxy_env())
        missing = project.invoke("release", "--env", "cloud", env=env)  # the logstore does not exist
        assert missing.returncode == 2, missing.stderr
        assert "agent-logs" in missing.stderr
        assert "does not exist" in missing.stderr
        assert "step 50%" not in missing.stdout  # no traffic moved
        assert project.invoke_json("endpoint.get", "--env", "cloud", env=env)["weights"] == {}

        sls.put("agent-logs", "runtime", [])
        with project.background("release", "--env", "cloud", env=env) as running_release:
            deadline = time.monotonic() + 120
            while not project.invoke_json("endpoint.get", "--env", "cloud", env=env)["weights"]:
                assert time.monotonic() < deadline
                assert running_release.poll() is None
                time.sleep(0.2)
            sls.fail_next(10_000, "Unauthorized", 401)  # the key loses SLS access mid-step
            assert running_release.wait(timeout=120) == 5
        endpoint = project.invoke_json("endpoint.get", "--env", "cloud", env=env)
        assert endpoint["targetVersion"] == "1"
        assert endpoint["weights"] == {}
        assert project.invoke_json("history", "--env", "cloud", env=env)[-1]["result"] == "failed"
