"""Long waits say they are alive without flooding a CI log: a canary step's heartbeat per probe
chunk (time elapsed and left, requests seen, the candidate's error rate so far), and a health
check that prints a line per new answer, not per attempt. Real HTTP to a local chat server."""

from __future__ import annotations

import http.server
import io
import itertools
import json
import re
from types import SimpleNamespace

import pytest

from agentrun_tasks.core.model import AnalysisConfig, HealthConfig
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.flows.deploy import check_health
from agentrun_tasks.flows.release import gates
from agentrun_tasks.testing.loopback import serving

REPLY = json.dumps({"choices": [{"message": {"role": "assistant", "content": "pong"}}]}).encode()


def serve(answer):
    """A chat server on 127.0.0.1 whose n-th request gets ``answer(n)``: (status, body)."""
    counter = itertools.count(1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            status, body = answer(next(counter))
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def flaky_agent():
    yield from serve(lambda n: (500, b"{}") if n % 4 == 0 else (200, REPLY))


@pytest.fixture
def starting_agent():
    yield from serve(lambda n: (503, b"starting") if n < 8 else (200, REPLY))


def test_each_probe_chunk_reports_elapsed_remaining_requests_and_error_rate(flaky_agent):
    beats: list[str] = []
    cfg = AnalysisConfig(min_requests=1000, probe_rate=8.0, max_error_rate=0.9, max_p99_ms=None,
                         max_latency_increase_ms=None)
    gates.judge_step(candidate_url=flaky_agent, stable_url=None, interval=2.0, cfg=cfg, health=HealthConfig(),
                     max_extensions=0, on_tick=beats.append)
    parsed = [re.fullmatch(r"(\d+)s elapsed, (\d+)s left; (\d+) candidate requests; candidate errors (\S+)%", b)
              for b in beats]
    assert len(beats) >= 2, beats
    assert all(parsed), beats
    requests = [int(m.group(3)) for m in parsed]
    assert requests == sorted(requests)
    assert requests[-1] >= 16
    assert parsed[-1].group(2) == "0"
    assert 20.0 <= float(parsed[-1].group(4)) <= 30.0


def test_a_health_check_in_a_ci_log_prints_each_new_answer_once_not_each_attempt(starting_agent):
    out = io.StringIO()
    reporter = Reporter(out=out, err=io.StringIO(), interactive=False)
    env = SimpleNamespace(health=HealthConfig(interval=0.05, timeout=30))
    result = check_health(starting_agent, env, reporter, "health check prod")
    assert result.ok
    assert result.attempts == 8
    lines = out.getvalue().splitlines()
    assert [line.rsplit(" (", 1)[0] for line in lines] == ["health check prod: HTTP 503, attempt 1",
                                                           "health check prod: HTTP 200, attempt 8"]
