"""release.canary.Canary against a real emulator (the OpenAPI driver over HTTP, real agent
processes per version), with short steps: health check before the first traffic, a release
that meets a hand rollback stops and leaves the stable version serving."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from agentrun_tasks.adapters.openapi import Connection, OpenApiDriver
from agentrun_tasks.core.build import crc64
from agentrun_tasks.core.errors import GateFailed
from agentrun_tasks.core.model import AnalysisConfig, EnvConfig, ReleaseConfig
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.core.retry import NO_RETRY
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.flows.release.canary import Canary, state_of
from agentrun_tasks.testing.emulator import agent_zip

AGENT = """\
import http.server, json, os
REPLY = json.dumps({"choices": [{"message": {"role": "assistant", "content": "pong"}}]}).encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(REPLY))); self.end_headers(); self.wfile.write(REPLY)
    do_GET = do_POST = reply
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""
ENDPOINT = "prod"
ENV = EnvConfig(name="test", path=Path("envs/test.yaml"), region="cn-hangzhou", driver="openapi", agent={},
                release=ReleaseConfig(endpoint=ENDPOINT, steps=(0.5, 1.0), interval=1.0, max_extensions=2,
                                      analysis=AnalysisConfig(min_requests=3, probe_rate=8.0, max_p99_ms=None,
                                                              max_latency_increase_ms=None)))


def runtime_spec(name: str) -> dict:
    data = agent_zip(AGENT)
    return {"agentRuntimeName": name, "artifactType": "Code", "cpu": 1.0, "memory": 2048, "port": 9000,
            "codeConfiguration": {"zipFile": base64.b64encode(data).decode(), "language": "python3.10",
                                  "command": ["python3", "app.py"], "checksum": str(crc64(data))}}


@pytest.fixture(scope="module")
def driver(emu) -> OpenApiDriver:
    creds = SimpleNamespace(access_key_id=Secret(emu.access_key_id), access_key_secret=emu.access_key_secret,
                            security_token=None)
    return OpenApiDriver(Connection(endpoint=emu.endpoint, protocol="http", region="cn-hangzhou",
                                    credentials=creds), NO_RETRY)


@pytest.fixture(scope="module")
def runtime(driver):
    """A READY runtime with versions 1 and 2 of a healthy chat agent."""
    runtime = driver.create_runtime(runtime_spec("canary"))
    deadline = time.monotonic() + 60
    while (runtime := driver.get_runtime(runtime.id)).busy and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtime.status == "READY", runtime.status_reason
    assert [driver.publish_version(runtime.id, f"v{i}").version for i in (1, 2)] == ["1", "2"]
    return runtime


def set_endpoint(driver, runtime, target: str, weights: dict | None = None) -> None:
    driver.put_endpoint(runtime.id, ENDPOINT, target_version=target, weights=weights or {})


def live(driver, runtime):
    state = state_of(driver.find_endpoint(runtime.id, ENDPOINT))
    return state.target_version, state.split()


def canary(driver, runtime, **kwargs) -> Canary:
    return Canary(driver, runtime, ENV, Reporter(out=io.StringIO(), err=io.StringIO()), candidate="2", **kwargs)


def test_a_healthy_candidate_is_health_checked_alone_then_stepped_and_promoted(driver, runtime):
    set_endpoint(driver, runtime, "1")
    checked = []
    report = canary(driver, runtime, health_check=checked.append).run()
    assert report.result == "promoted"
    assert [s["weight"] for s in report.steps] == [0.5, 1.0]
    assert live(driver, runtime) == ("2", {})
    assert checked == [driver.find_endpoint(runtime.id, f"{ENDPOINT}-candidate").url]


def test_a_candidate_failing_its_health_check_gets_no_traffic(driver, runtime):
    set_endpoint(driver, runtime, "1")

    def unhealthy(url: str) -> None:
        raise GateFailed(f"the candidate does not answer at {url}")

    with pytest.raises(GateFailed, match="does not answer"):
        canary(driver, runtime, health_check=unhealthy).run()
    assert live(driver, runtime) == ("1", {})


def test_a_rollback_between_the_check_and_the_write_is_not_undone(driver, runtime):
    """`invoke rollback` lands right after the release checked the candidate was still wanted:
    the release's write re-splits, its check after the write sees the mark and rolls back."""
    set_endpoint(driver, runtime, "1", {"2": 0.5})  # a rerun finds its step at 50%
    rolled_back = []

    def still_wanted() -> None:
        if rolled_back:
            raise GateFailed("version 2 was marked failed while this release ran")
        rolled_back.append(True)  # passes, and the hand rollback lands right after
        set_endpoint(driver, runtime, "1")

    with pytest.raises(GateFailed, match="marked failed"):
        canary(driver, runtime, still_wanted=still_wanted).run()
    assert live(driver, runtime) == ("1", {})


def test_a_rollback_killed_before_its_endpoint_write_is_finished_by_the_release(driver, runtime):
    set_endpoint(driver, runtime, "1", {"2": 0.5})  # marked failed, but the split is still there

    def still_wanted() -> None:
        raise GateFailed("version 2 was marked failed while this release ran")

    with pytest.raises(GateFailed):
        canary(driver, runtime, still_wanted=still_wanted).run()
    assert live(driver, runtime) == ("1", {})
