"""OpenApiDriver against a real emulator (and a fake client where the emulator would be slow):
list calls read every page; a create retried after its answer was lost returns what it created."""

from __future__ import annotations

import base64
import time
from types import SimpleNamespace

import pytest

from agentrun_tasks.adapters.openapi import Connection, OpenApiDriver
from agentrun_tasks.core.build import crc64
from agentrun_tasks.core.errors import BusyError
from agentrun_tasks.core.retry import NO_RETRY, RetryPolicy
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.testing.emulator import agent_zip

AGENT = """\
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("content-length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def runtime_spec(name: str) -> dict:
    data = agent_zip(AGENT)
    return {"agentRuntimeName": name, "artifactType": "Code", "cpu": 1.0, "memory": 2048, "port": 9000,
            "codeConfiguration": {"zipFile": base64.b64encode(data).decode(), "language": "python3.10",
                                  "command": ["python3", "app.py"], "checksum": str(crc64(data))}}


def driver_for(emu, policy=NO_RETRY) -> OpenApiDriver:
    creds = SimpleNamespace(access_key_id=Secret(emu.access_key_id), access_key_secret=emu.access_key_secret,
                            security_token=None)
    return OpenApiDriver(Connection(endpoint=emu.endpoint, protocol="http", region="cn-hangzhou",
                                    credentials=creds), policy)


def wait_ready(driver: OpenApiDriver, runtime_id: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    runtime = driver.get_runtime(runtime_id)
    while runtime.busy and time.monotonic() < deadline:
        time.sleep(0.1)
        runtime = driver.get_runtime(runtime_id)
    assert runtime.status == "READY", runtime.status_reason
    return runtime


@pytest.fixture(scope="module")
def runtime(emu):
    driver = driver_for(emu)
    return wait_ready(driver, driver.create_runtime(runtime_spec("pager")).id)


def test_list_versions_reads_every_page(emu, runtime):
    driver = driver_for(emu)
    for i in range(105):
        driver.publish_version(runtime.id, f"v{i + 1}")
    assert [v.version for v in driver.list_versions(runtime.id)] == [str(i) for i in range(1, 106)]


def test_list_endpoints_reads_every_page_and_find_endpoint_finds_the_last(emu, runtime):
    from alibabacloud_agentrun20250910 import models as m

    driver = driver_for(emu)
    for i in range(103):
        driver.client.create_agent_runtime_endpoint(runtime.id, m.CreateAgentRuntimeEndpointRequest(
            body=m.CreateAgentRuntimeEndpointInput(agent_runtime_endpoint_name=f"ep-{i:03d}", target_version="LATEST")))
    names = [e.name for e in driver.list_endpoints(runtime.id) if e.name.startswith("ep-")]
    assert names == [f"ep-{i:03d}" for i in range(103)]
    assert driver.find_endpoint(runtime.id, "ep-102").name == "ep-102"
    assert driver.find_endpoint(runtime.id, "ep-1") is None  # exact, not a substring match


class FakeRuntimes:
    """``list_agent_runtimes`` over ``count`` runtimes, ignoring the name filter; records each request."""

    def __init__(self, count: int, report_total: bool = True) -> None:
        self.items = [{"agentRuntimeId": f"id-{i}", "agentRuntimeName": f"rt-{i}", "status": "READY"}
                      for i in range(count)]
        self.report_total = report_total
        self.requests = []

    def list_agent_runtimes(self, request):
        self.requests.append(request)
        start = (request.page_number - 1) * request.page_size
        data = {"items": self.items[start:start + request.page_size], "pageNumber": request.page_number,
                "pageSize": request.page_size}
        if self.report_total:
            data["total"] = len(self.items)
        return SimpleNamespace(body=SimpleNamespace(to_map=lambda: {"data": data}))


def fake_driver(client) -> OpenApiDriver:
    creds = SimpleNamespace(access_key_id=Secret("LTAI-fake"), access_key_secret=Secret("fake-secret-0123"),
                            security_token=None)
    driver = OpenApiDriver(Connection(endpoint="127.0.0.1:1", protocol="http", region="cn-hangzhou",
                                      credentials=creds), NO_RETRY)
    driver._client = client
    return driver


@pytest.mark.parametrize(("count", "report_total", "wanted", "pages"), [
    (250, True, "rt-249", [1, 2, 3]),
    (200, True, "rt-199", [1, 2]),       # total reached: no third request
    (200, False, "rt-199", [1, 2, 3]),   # no total: stop at the first short (here empty) page
    (250, True, "rt-x", [1, 2, 3]),
], ids=["short-page", "total", "no-total", "absent"])
def test_find_runtime_reads_every_page(count, report_total, wanted, pages):
    client = FakeRuntimes(count, report_total)
    runtime = fake_driver(client).find_runtime(wanted)
    assert (runtime.id if runtime else None) == (None if wanted == "rt-x" else "id-" + wanted[3:])
    assert [r.page_number for r in client.requests] == pages
    assert {(r.agent_runtime_name, r.search_mode, r.page_size) for r in client.requests} == {(wanted, "exact", 100)}


class LoseFirstAnswer:
    """The real client, except that the first ``method`` call reaches the platform and then times out."""

    def __init__(self, client, method: str) -> None:
        self._client, self._method, self.calls = client, method, 0

    def __getattr__(self, name):
        real = getattr(self._client, name)
        if name != self._method:
            return real

        def call(*args, **kwargs):
            from darabonba.exceptions import UnretryableException
            from darabonba.policy.retry import RetryPolicyContext

            self.calls += 1
            response = real(*args, **kwargs)
            if self.calls == 1:
                raise UnretryableException(RetryPolicyContext(exception=TimeoutError("read timed out")))
            return response
        return call


RETRY_AT_ONCE = RetryPolicy(attempts=3, initial=0.0, maximum=0.0, total=10.0)


def test_create_runtime_retried_after_a_lost_answer_returns_the_runtime(emu):
    driver = driver_for(emu, RETRY_AT_ONCE)
    driver._client = flaky = LoseFirstAnswer(driver.client, "create_agent_runtime")
    created = driver.create_runtime(runtime_spec("retried"))
    assert flaky.calls == 1  # the retry found what the lost call made instead of creating again
    assert (created.name, created.id) == ("retried", driver.find_runtime("retried").id)
    wait_ready(driver, created.id)


def test_put_endpoint_retried_after_a_lost_answer_returns_the_endpoint(emu, runtime):
    driver = driver_for(emu, RETRY_AT_ONCE)
    driver._client = flaky = LoseFirstAnswer(driver.client, "create_agent_runtime_endpoint")
    endpoint = driver.put_endpoint(runtime.id, "retried", target_version="LATEST", description="d")
    assert flaky.calls == 1
    assert (endpoint.name, endpoint.description) == ("retried", "d")
    assert endpoint.id == driver.find_endpoint(runtime.id, "retried").id


def test_a_first_create_refused_as_existing_stays_busy(emu, runtime):
    with pytest.raises(BusyError, match="already exists"):
        driver_for(emu, RETRY_AT_ONCE).create_runtime(runtime_spec("pager"))
