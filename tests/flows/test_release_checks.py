"""Acceptance checks (release.checks) in a real canary on the emulator: real agent processes per
version, real HTTP to the candidate-only endpoint, real child processes for command checks."""

from __future__ import annotations

import base64
import io
import json
import sys
import time
from pathlib import Path

import pytest

from agentrun_tasks.core.build import crc64
from agentrun_tasks.core.checks import Check, build
from agentrun_tasks.core.cienv import CIContext
from agentrun_tasks.core.errors import GateFailed
from agentrun_tasks.core.model import AnalysisConfig, EnvConfig, ReleaseConfig
from agentrun_tasks.core.notify import ROLLED_BACK, release_event
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.flows.release.canary import Canary, state_of
from agentrun_tasks.flows.release.checks import CANDIDATE_URL, Acceptance
from agentrun_tasks.testing.emulator import agent_zip

# Version 2 answers 500 to any prompt holding "refund" (as the example agent's AGENT_FAULT_MATCH
# does); every version answers with its number, and as JSON when asked for JSON.
AGENT = """\
import http.server, json, os
VERSION = os.environ.get("AGENTRUN_RUNTIME_VERSION", "")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def do_POST(self):
        said = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        said = (said.get("messages") or [{}])[-1].get("content", "")
        if VERSION == "2" and "refund" in said:
            return self.answer(500, {"error": {"message": "injected fault"}})
        text = json.dumps({"version": VERSION}) if "json" in said else f"Hello from {VERSION}: {said}"
        self.answer(200, {"choices": [{"message": {"role": "assistant", "content": text}}]})
    def do_GET(self):
        self.answer(200, {})
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""
ENDPOINT = "prod"
CI = CIContext(platform="local", is_ci=False)


def env_with(*checks: Check) -> EnvConfig:
    return EnvConfig(name="test", path=Path("envs/test.yaml"), region="cn-hangzhou", driver="openapi",
                     agent={"name": "checks"},
                     release=ReleaseConfig(endpoint=ENDPOINT, steps=(0.5, 1.0), interval=1.0, max_extensions=2,
                                           checks=checks,
                                           analysis=AnalysisConfig(min_requests=3, probe_rate=8.0, max_p99_ms=None,
                                                                   max_latency_increase_ms=None)))


@pytest.fixture(scope="module")
def driver(emu):
    from types import SimpleNamespace

    from agentrun_tasks.adapters.openapi import Connection, OpenApiDriver
    from agentrun_tasks.core.retry import NO_RETRY
    from agentrun_tasks.core.secrets import Secret

    creds = SimpleNamespace(access_key_id=Secret(emu.access_key_id), access_key_secret=emu.access_key_secret,
                            security_token=None)
    return OpenApiDriver(Connection(endpoint=emu.endpoint, protocol="http", region="cn-hangzhou",
                                    credentials=creds), NO_RETRY)


@pytest.fixture(scope="module")
def runtime(driver):
    """A READY runtime with versions 1, 2 (faulty on "refund") and 3."""
    data = agent_zip(AGENT)
    runtime = driver.create_runtime({
        "agentRuntimeName": "checks", "artifactType": "Code", "cpu": 1.0, "memory": 2048, "port": 9000,
        "codeConfiguration": {"zipFile": base64.b64encode(data).decode(), "language": "python3.10",
                              "command": ["python3", "app.py"], "checksum": str(crc64(data))}})
    deadline = time.monotonic() + 60
    while (runtime := driver.get_runtime(runtime.id)).busy and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtime.status == "READY", runtime.status_reason
    assert [driver.publish_version(runtime.id, f"v{i}").version for i in (1, 2, 3)] == ["1", "2", "3"]
    return runtime


class Recording:
    """The driver, recording every write to the release endpoint."""

    def __init__(self, driver) -> None:
        self.driver, self.writes = driver, []

    def __getattr__(self, name):
        return getattr(self.driver, name)

    def put_endpoint(self, runtime_id, name, **kwargs):
        if name == ENDPOINT:
            self.writes.append(kwargs)
        return self.driver.put_endpoint(runtime_id, name, **kwargs)


def release(driver, runtime, candidate: str, *checks: Check, tmp_path: Path, environ=None):
    env = env_with(*checks)
    out = io.StringIO()
    reporter = Reporter(out=out, err=out)
    acceptance = Acceptance(env.release.checks, env=env, root=tmp_path, reporter=reporter,
                            environ=environ if environ is not None else {"PATH": "/usr/bin:/bin"})
    recording = Recording(driver)
    canary = Canary(recording, runtime, env, reporter, candidate=candidate, acceptance=acceptance)
    return canary, recording, out


def prompt(name: str, text: str, **expect) -> Check:
    return build([{"name": name, "prompt": text, "expect": expect}])[0]  # as an env file's check is built


def command(name: str, code: str, when=("pre-rollout",)) -> Check:
    return build([{"name": name, "command": [sys.executable, "-c", code], "when": list(when), "timeout": 60}])[0]


def test_a_prompt_check_the_candidate_fails_stops_the_release_before_any_traffic_moves(driver, runtime, tmp_path):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    canary, recording, out = release(driver, runtime, "2", prompt("handles-refunds", "I want a refund"),
                                     tmp_path=tmp_path)
    with pytest.raises(GateFailed) as failed:
        canary.run()
    message = str(failed.value)
    assert "acceptance check 'handles-refunds' failed" in message
    assert "expected HTTP 200" in message
    assert "got HTTP 500" in message
    assert "injected fault" in message
    assert "No traffic reached it" in message
    assert recording.writes == []  # the release endpoint was never written: never routed to version 2
    assert state_of(driver.find_endpoint(runtime.id, ENDPOINT)).split() == {}
    report = failed.value.report.to_dict()
    assert report["result"] == "rejected"
    [step] = report["steps"]
    assert step["phase"] == "pre-rollout"
    assert step["result"] == "fail"
    assert step["table"][0]["metric"] == "check handles-refunds"
    assert step["table"][0]["verdict"] == "fail"
    assert "check handles-refunds" in out.getvalue()
    assert "0 of 1 passed" in out.getvalue()
    event = release_event(env_with(), CI, error=failed.value)
    assert event.kind == ROLLED_BACK
    assert event.gate.metric == "check handles-refunds"
    assert [row.metric for row in event.analysis] == ["check handles-refunds"]


def test_the_same_check_passes_a_healthy_candidate_which_is_released(driver, runtime, tmp_path):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    checks = (prompt("handles-refunds", "I want a refund", contains=["Hello from 3"], max_ms=5000),
              prompt("answers-json", "answer in json", json_fields={"version": "3"}))
    canary, _recording, out = release(driver, runtime, "3", *checks, tmp_path=tmp_path)
    report = canary.run()
    assert report.result == "promoted"
    assert [s.get("phase", s["weight"]) for s in report.steps] == ["pre-rollout", 0.5, 1.0]
    assert [row["verdict"] for row in report.steps[0]["table"]] == ["pass", "pass"]
    assert state_of(driver.find_endpoint(runtime.id, ENDPOINT)).target_version == "3"
    assert "pre-rollout checks: 2 of 2 passed" in out.getvalue()


def test_a_command_check_that_exits_1_stops_the_release_the_same_way(driver, runtime, tmp_path):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    check = command("evals", "import sys; print('2 of 5 evals failed'); sys.exit(1)")
    canary, recording, _out = release(driver, runtime, "3", check, tmp_path=tmp_path)
    with pytest.raises(GateFailed, match=r"acceptance check 'evals' failed: exit 1, expected 0 .*2 of 5 evals"):
        canary.run()
    assert recording.writes == []


def test_a_command_check_that_exits_0_sees_the_candidate_url_and_lets_the_release_proceed(driver, runtime, tmp_path):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    seen = tmp_path / "seen.json"
    code = ("import json, os, urllib.request; "
            f"url = os.environ['{CANDIDATE_URL}'] + '/openai/v1/chat/completions'; "
            "body = json.dumps({'messages': [{'role': 'user', 'content': 'who'}]}).encode(); "
            "answer = json.loads(urllib.request.urlopen(urllib.request.Request(url, data=body)).read()); "
            f"json.dump({{'env': dict(os.environ), 'answer': answer}}, open({str(seen)!r}, 'w'))")
    canary, _recording, _out = release(driver, runtime, "3", command("evals", code), tmp_path=tmp_path,
                                      environ={"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": "ghp_not_for_children",
                                               "AGENTRUN_API_KEY_TEST": "sk-data-plane-key-0001"})
    assert canary.run().result == "promoted"
    facts = json.loads(seen.read_text())
    candidate = driver.find_endpoint(runtime.id, f"{ENDPOINT}-candidate").url
    stable = driver.find_endpoint(runtime.id, f"{ENDPOINT}-stable").url
    assert facts["env"][CANDIDATE_URL] == candidate
    assert facts["env"]["AGENTRUN_STABLE_URL"] == stable
    assert facts["answer"]["choices"][0]["message"]["content"].startswith("Hello from 3")
    assert facts["env"]["AGENTRUN_API_KEY"] == "sk-data-plane-key-0001"  # the endpoint's data-plane key
    assert "GITHUB_TOKEN" not in facts["env"]  # an allow-list, not a copy of the job's environment


def test_an_each_step_check_that_fails_at_a_step_rolls_back_like_any_gate(driver, runtime, tmp_path):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    check = command("smoke", "import sys; print('smoke failed'); sys.exit(1)", when=("each-step",))
    canary, recording, out = release(driver, runtime, "3", check, tmp_path=tmp_path)
    with pytest.raises(GateFailed, match=r"failed at 50%: acceptance check 'smoke' failed") as failed:
        canary.run()
    assert state_of(driver.find_endpoint(runtime.id, ENDPOINT)).target_version == "1"
    assert state_of(driver.find_endpoint(runtime.id, ENDPOINT)).split() == {}
    assert [w["weights"] for w in recording.writes] == [{"3": 0.5}, {}]
    step = failed.value.report.to_dict()["steps"][-1]
    assert step["weight"] == 0.5
    assert step["table"][0]["metric"] == "check smoke"
    assert "check smoke" in out.getvalue()


def test_the_data_plane_key_a_command_prints_never_reaches_output_or_the_report(driver, runtime, tmp_path):
    sentinel = "sk-SENTINEL-dataplane-7f3a9c"
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    check = command("leaky", "import os, sys; print('key=' + os.environ['AGENTRUN_API_KEY']); sys.exit(1)")
    canary, _recording, out = release(driver, runtime, "3", check, tmp_path=tmp_path,
                                      environ={"PATH": "/usr/bin:/bin", "AGENTRUN_API_KEY": sentinel})
    with pytest.raises(GateFailed) as failed:
        canary.run()
    assert "key=" in str(failed.value)  # the program's output is quoted...
    for text in (str(failed.value), out.getvalue(), json.dumps(failed.value.report.to_dict())):
        assert sentinel not in text  # ...with the key masked


def test_each_step_checks_that_pass_are_rows_of_every_step_table(driver, runtime, tmp_path):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    check = build([{"name": "answers", "prompt": "hello", "when": ["each-step"], "expect": {"contains": ["from 3"]}}])[0]
    canary, _recording, _out = release(driver, runtime, "3", check, tmp_path=tmp_path)
    report = canary.run()
    assert report.result == "promoted"
    assert [s["weight"] for s in report.steps] == [0.5, 1.0]
    for step in report.steps:
        assert step["table"][0]["metric"] == "check answers"
        assert step["table"][0]["verdict"] == "pass"
        assert step["table"][1]["metric"] == "requests"  # the probe's gates follow


def test_blue_green_runs_the_pre_rollout_checks_on_the_idle_colour_and_does_not_switch_on_a_failure(
        driver, runtime, tmp_path):
    from agentrun_tasks.flows.release.bluegreen import blue_green

    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    env = env_with(prompt("handles-refunds", "refund"))
    reporter = Reporter(out=io.StringIO(), err=io.StringIO())
    acceptance = Acceptance(env.release.checks, env=env, root=tmp_path, reporter=reporter, environ={})
    with pytest.raises(GateFailed, match="version 2 was not switched to: acceptance check 'handles-refunds'") as no:
        blue_green(Recording(driver), runtime, env, reporter, candidate="2", force=False,
                   health_check=lambda url: None, acceptance=acceptance)
    assert state_of(driver.find_endpoint(runtime.id, ENDPOINT)).target_version == "1"
    assert no.value.details["result"] == "rejected"
    assert no.value.details["steps"][0]["phase"] == "pre-rollout"
