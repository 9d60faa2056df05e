"""Real traffic for the gates from SLS: the release endpoint's rows per version, late rows picked
up on a later read, each request counted once, reads spaced out."""

from __future__ import annotations

import pytest

from agentrun_tasks.adapters.openapi_connection import Connection
from agentrun_tasks.adapters.sls_client import SlsProject
from agentrun_tasks.adapters.sls_logs import SlsLogs
from agentrun_tasks.adapters.sls_traffic import SlsTraffic
from agentrun_tasks.core import fclogs
from agentrun_tasks.core.credentials import Credentials
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.testing.sls import local_sls

KEY_ID, SECRET, RUNTIME = "LTAIFAKETRAFFIC0000001", "traffic-secret", "ar-traffic"
NOW = 1_790_000_000


@pytest.fixture
def sls(monkeypatch):
    with local_sls({KEY_ID: SECRET}) as server:
        for name, value in server.proxy_env().items():
            monkeypatch.setenv(name, value)
        server.put("proj", "store", [])
        yield server


def row(i: int, *, endpoint: str = "prod", version: str = "2", status: int = 200, at: int = NOW) -> dict:
    return {"__topic__": fclogs.request_topic(RUNTIME), "__time__": at, "invocationStartTimestamp": at * 1000 + i,
            "qualifier": endpoint, "versionId": version, "statusCode": status, "durationMs": 10 + i,
            "requestId": f"req-{i}"}


def traffic(clock) -> SlsTraffic:
    creds = Credentials(Secret(KEY_ID, source="test"), Secret(SECRET, source="test"), None, None, {})
    project = SlsProject(Connection("cn-hangzhou.log.aliyuncs.com", "http", "cn-hangzhou", creds), "proj")
    return SlsTraffic(SlsLogs(project, "store", RUNTIME, clock=clock), "prod", lag=60, every=5, clock=clock)


def test_the_release_endpoints_rows_become_samples_per_version_and_late_rows_count_later(sls):
    now = [NOW + 10.0]
    read = traffic(lambda: now[0]).window(stable="1", candidate="2")
    sls.put("proj", "store", [row(0), row(1, status=503), row(2, version="1"),
                              row(3, endpoint="prod-candidate"),  # the probe's side endpoint: not real traffic
                              row(4, at=NOW - 100)])  # before the step began
    candidate, stable = read(NOW, now[0])
    assert [(s.ok, s.latency_ms) for s in candidate] == [(True, 10.0), (False, 11.0)]
    assert [s.latency_ms for s in stable] == [12.0]
    sls.put("proj", "store", [row(5, at=NOW + 2)])  # indexed late: its request was before the last read
    now[0] += 1
    assert len(read(NOW, now[0])[0]) == 2  # within `every` of the last read: no new call
    calls = len(sls.calls)
    now[0] += 5
    candidate, _ = read(NOW, now[0])
    assert len(sls.calls) == calls + 1
    assert len(candidate) == 3
    sls.put("proj", "store", [row(5, at=NOW + 2)])  # the same request again: counted once
    now[0] += 5
    assert len(read(NOW, now[0])[0]) == 3
    assert sls.calls[-1]["body"]["reverse"] is True  # newest first: a busy window holds more than one read
