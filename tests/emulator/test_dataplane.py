"""The data plane over real HTTP: weighted routing to real processes, streaming, the request log."""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import random
import textwrap
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import psutil
import pytest
from aiohttp import web

from agentrun_tasks.emulator.dataplane import add_routes
from agentrun_tasks.emulator.requestlog import RequestLog
from agentrun_tasks.emulator.spec import ProcessSpec
from agentrun_tasks.emulator.state import State
from agentrun_tasks.emulator.supervisor import Supervisor

CODE = Path(__file__).resolve().parents[2] / "code"
CHAT = {"model": "example-agent", "messages": [{"role": "user", "content": "ping"}]}

# Echoes what it received; /slow-sse sends three events 0.3 s apart.
ECHO_AGENT = textwrap.dedent("""
    import json, os, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def handle_any(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/slow-sse":
                self.send_response(200); self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close"); self.end_headers()
                for i in range(3):
                    self.wfile.write(b"data: %d\\n\\n" % i); self.wfile.flush(); time.sleep(0.3)
                self.close_connection = True
                return
            out = json.dumps({"method": self.command, "path": self.path, "body": body.decode(),
                              "headers": dict(self.headers)}).encode()
            self.send_response(201); self.send_header("Content-Length", str(len(out)))
            self.send_header("Connection", "keep-alive"); self.end_headers(); self.wfile.write(out)
        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any
        def log_message(self, *a): pass
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
""")


class Routes:
    """A stand-in for the control plane's state: (runtime, endpoint) -> [(spec, weight)]."""

    def __init__(self):
        self.table: dict[tuple[str, str], list[tuple[ProcessSpec, float]]] = {}

    def routes_for(self, runtime, endpoint):
        return self.table.get((runtime, endpoint))

    def credential_for(self, runtime):
        return None


class Emulator:
    """The data plane's routes on an aiohttp app, served from a thread on a free port."""

    def __init__(self, tmp: Path):
        self.routes = Routes()
        self.supervisor = Supervisor(tmp / "logs")
        self.requestlog = RequestLog(tmp / "requests.db")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = self.call(self._serve())
        self.base = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def _serve(self):
        app = web.Application()
        add_routes(app, self.routes, self.supervisor, self.requestlog)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def endpoint(self, runtime="rt", endpoint="ep"):
        return f"{self.base}/agent-runtimes/{runtime}/endpoints/{endpoint}/invocations"

    def close(self):
        self.call(self.supervisor.stop_all())
        self.call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.requestlog.close()


@pytest.fixture
def emulator(tmp_path):
    # Processes the worker ran before (an emulator another module shares) are not this test's.
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    emulator = Emulator(tmp_path)
    yield emulator
    emulator.close()
    assert [p for p in psutil.Process().children(recursive=True) if p.pid not in before] == []


def example(version: str, **env) -> ProcessSpec:
    return ProcessSpec("rt-id", "rt", version, CODE, ("python", "app.py"), 9000, env)


def echo(tmp_path: Path, version: str = "1") -> ProcessSpec:
    workdir = tmp_path / f"echo-{version}"
    workdir.mkdir(exist_ok=True)
    (workdir / "agent.py").write_text(ECHO_AGENT)
    return ProcessSpec("rt-id", "rt", version, workdir, ("python3", "agent.py"), 9000)


def post(connection: http.client.HTTPConnection, path: str, body: dict):
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response, response.read()


def test_a_20_percent_split_serves_version_2_within_a_99_percent_binomial_interval(emulator):
    emulator.routes.table["rt", "ep"] = [(example("1"), 0.8), (example("2"), 0.2)]
    random.seed(20260101)  # the proxy draws from the module's generator: a reproducible run
    target = urlsplit(emulator.endpoint())
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    served = []
    for _ in range(1000):
        response, _body = post(connection, target.path + "/openai/v1/chat/completions", CHAT)
        assert response.status == 200
        # The header the proxy adds and the version the agent process was started with agree.
        assert response.getheader("x-agentrun-version") == response.getheader("x-agent-version")
        served.append(response.getheader("x-agentrun-version"))
    connection.close()
    assert set(served) == {"1", "2"}
    from scipy.stats import binomtest  # here, not at the top: every worker collects this module

    assert binomtest(served.count("2"), 1000, 0.2).pvalue > 0.01
    logged = emulator.requestlog.query(runtime="rt", endpoint="ep", version="2")
    assert len(logged) == served.count("2")


def test_method_path_tail_query_headers_and_body_reach_the_agent(emulator, tmp_path):
    emulator.routes.table["rt", "ep"] = [(echo(tmp_path), 1.0)]
    target = urlsplit(emulator.endpoint())
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    for method, tail, expected_path in (("PUT", "/a%2Fb/c?x=1&y=%20", "/a%2Fb/c?x=1&y=%20"),
                                        ("DELETE", "", "/"), ("GET", "?q=2", "/?q=2")):
        connection.request(method, target.path + tail, b"payload" if method == "PUT" else None,
                           {"X-Trace": "abc", "Connection": "keep-alive"})
        response = connection.getresponse()
        seen = json.loads(response.read())
        assert response.status == 201
        assert response.getheader("x-agentrun-version") == "1"
        assert (seen["method"], seen["path"]) == (method, expected_path)
        assert seen["headers"]["X-Trace"] == "abc"
        assert seen["body"] == ("payload" if method == "PUT" else "")
    connection.close()


def test_server_sent_events_arrive_one_by_one(emulator, tmp_path):
    emulator.routes.table["rt", "ep"] = [(echo(tmp_path), 1.0)]

    async def read_events():
        arrivals = []
        async with aiohttp.ClientSession() as session, session.get(emulator.endpoint() + "/slow-sse") as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            async for line in response.content:
                if line.startswith(b"data: "):
                    arrivals.append((line.strip(), time.monotonic()))
        return arrivals

    arrivals = asyncio.run(read_events())
    assert [event for event, _ in arrivals] == [b"data: 0", b"data: 1", b"data: 2"]
    # The agent sleeps 0.3 s between events: a buffering proxy would deliver them together.
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(arrivals)]
    assert min(gaps) > 0.15


def test_the_official_openai_client_gets_completions_through_the_endpoint(emulator):
    import openai  # here, not at the top: every worker collects this module, few run this test

    emulator.routes.table["rt", "ep"] = [(example("4"), 1.0)]
    client = openai.OpenAI(base_url=emulator.endpoint() + "/openai/v1", api_key="unused",
                           max_retries=0)
    messages = [{"role": "user", "content": "how are you?"}]
    raw = client.chat.completions.with_raw_response.create(model="example-agent", messages=messages)
    completion = raw.parse()
    expected = "Hello from the example agent (version 4). You said: how are you?"
    assert completion.choices[0].message.content == expected
    assert raw.headers["x-agentrun-version"] == "4"

    stream = client.chat.completions.create(model="example-agent", messages=messages, stream=True)
    chunks = [chunk.choices[0].delta.content or "" for chunk in stream]
    assert len(chunks) > 3
    assert "".join(chunks) == expected


def test_unknown_endpoint_is_a_404_in_the_clouds_error_shape(emulator):
    target = urlsplit(emulator.endpoint(endpoint="nope"))
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    response, body = post(connection, target.path + "/openai/v1/chat/completions", CHAT)
    error = json.loads(body)
    assert response.status == 404
    assert error["code"] == "EndpointNotFound"
    assert "'nope'" in error["message"]
    assert error["requestId"]


def test_a_version_that_cannot_start_answers_503_with_the_reason_and_is_logged_as_fail(emulator, tmp_path):
    broken = echo(tmp_path, "5")
    (broken.workdir / "agent.py").write_text("raise SystemExit('cannot load weights.bin')\n")
    emulator.routes.table["rt", "ep"] = [(broken, 1.0)]
    target = urlsplit(emulator.endpoint())
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    response, body = post(connection, target.path + "/openai/v1/chat/completions", CHAT)
    error = json.loads(body)
    assert response.status == 503
    assert response.getheader("x-agentrun-version") == "5"
    assert error["code"] == "AgentStartFailed"
    assert "exited with code 1" in error["message"]
    assert "cannot load weights.bin" in error["message"]
    assert [r["outcome"] for r in emulator.requestlog.query(version="5")] == ["fail"]


def test_injected_faults_are_recorded_as_fail_and_served_by_the_log_endpoint(emulator):
    emulator.routes.table["rt", "ep"] = [(example("6", AGENT_FAULT_RATE="1"), 1.0)]
    emulator.routes.table["rt", "other"] = [(example("1"), 1.0)]
    target = urlsplit(emulator.base)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    started = time.time()
    for endpoint in ["ep"] * 20 + ["other"] * 5:
        path = urlsplit(emulator.endpoint(endpoint=endpoint)).path + "/openai/v1/chat/completions"
        response, _ = post(connection, path, CHAT)
        assert response.status == (500 if endpoint == "ep" else 200)

    def log(query: str):
        connection.request("GET", "/_emulator/requests?" + query)
        response = connection.getresponse()
        return response.status, json.loads(response.read())

    status, failed = log(f"runtime=rt&endpoint=ep&outcome=fail&since={started}")
    assert status == 200
    assert len(failed) == 20
    assert {(r["version"], r["status"], r["outcome"]) for r in failed} == {("6", 500, "fail")}
    assert log("runtime=rt&endpoint=ep&outcome=success")[1] == []
    assert len(log("runtime=rt&endpoint=other&outcome=success&limit=3")[1]) == 3
    assert log("until=2000-01-01T00:00:00Z")[1] == []
    status, error = log("outcome=maybe")
    assert status == 400
    assert error["code"] == "InvalidParameter"
    connection.close()


def test_request_log_queries_by_window_outcome_and_limit_and_survives_reopening(tmp_path):
    path = tmp_path / "requests.db"
    requestlog = RequestLog(path)
    for second, status in enumerate([200, 200, 500, 404, 502, 200]):
        requestlog.record("rt", "ep", "2" if second % 2 else "1", status, 1.5, ts=1000.0 + second)
    requestlog.record("rt", "other", "1", 200, 1.0, ts=1002.5)
    requestlog.close()

    reopened = RequestLog(path, retention_s=None)  # the fixed 1970 timestamps are past any retention
    window = reopened.query(runtime="rt", endpoint="ep", since=1001, until=1005)
    assert [(r["ts"], r["status"], r["outcome"]) for r in window] == [
        (1001.0, 200, "success"), (1002.0, 500, "fail"), (1003.0, 404, "success"),
        (1004.0, 502, "fail")]
    assert [r["ts"] for r in reopened.query(endpoint="ep", outcome="fail")] == [1002.0, 1004.0]
    assert [r["ts"] for r in reopened.query(endpoint="ep", version="2", outcome="success")] == [
        1001.0, 1003.0, 1005.0]
    assert [r["ts"] for r in reopened.query(limit=2)] == [1004.0, 1005.0]
    assert len(reopened.query(since=1002, until=1003)) == 2
    with pytest.raises(ValueError, match="outcome must be one of success, fail"):
        reopened.query(outcome="ok")
    reopened.close()


def test_opening_the_request_log_drops_records_past_the_retention_and_over_the_row_cap(tmp_path):
    path, now = tmp_path / "requests.db", time.time()
    requestlog = RequestLog(path)
    for age_days in (30, 8, 6, 1, 0):
        requestlog.record("rt", "ep", "1", 200, 1.0, ts=now - age_days * 86400)
    requestlog.close()

    def ages(log: RequestLog) -> list[int]:
        return [round((now - r["ts"]) / 86400) for r in log.query()]

    kept = RequestLog(path)  # default: 7 days
    assert ages(kept) == [6, 1, 0]
    kept.record("rt", "ep", "1", 200, 1.0, ts=now - 2 * 86400)  # written last, but not the newest
    kept.close()
    capped = RequestLog(path, max_rows=2)  # the newest by ts stay
    assert ages(capped) == [1, 0]
    capped.close()
    shorter = RequestLog(path, retention_s=12 * 3600)
    assert ages(shorter) == [0]
    shorter.close()


# -- State.routes_for: the control plane's real route table ----------------------------------
def state_with_canary(tmp_path: Path) -> State:
    """Runtime "agent" with versions 1 and 2; endpoint "prod" on 1 with 10% to 2."""
    state = State(tmp_path)
    code = {"command": ["python3", "app.py"], "port": 9000, "env": {}}
    state.runtimes["rt"] = {"agentRuntimeId": "rt", "agentRuntimeName": "agent", "_spec": {**code, "package": "p0"}}
    state.versions["rt"] = [{"agentRuntimeVersion": v, "_spec": {**code, "package": f"p{v}"}} for v in ("1", "2")]
    state.endpoints["ep"] = {"agentRuntimeEndpointId": "ep", "agentRuntimeEndpointName": "prod", "agentRuntimeId": "rt",
                             "targetVersion": "1",
                             "routingConfiguration": {"versionWeights": [{"version": "2", "weight": 0.1}]}}
    state.save()
    return state


def shares(routes) -> dict[str, float]:
    return {spec.version: pytest.approx(weight) for spec, weight in routes}


def test_routes_for_sees_a_changed_endpoint_weight_on_the_next_call(tmp_path):
    state = state_with_canary(tmp_path)
    first = state.routes_for("agent", "prod")
    assert shares(first) == {"1": 0.9, "2": 0.1}
    assert {spec.version: spec.package_sha256 for spec, _ in first} == {"1": "p1", "2": "p2"}
    assert state.routes_for("agent", "prod") is first  # cached between saves

    # As update_endpoint does it: a new record, then save().
    state.endpoints["ep"] = {**state.endpoints["ep"],
                             "routingConfiguration": {"versionWeights": [{"version": "2", "weight": 0.5}]}}
    state.save()
    assert shares(state.routes_for("agent", "prod")) == {"1": 0.5, "2": 0.5}

    del state.endpoints["ep"]
    state.save()
    assert state.routes_for("agent", "prod") is None
    assert state.routes_for("agent", "no-such-endpoint") is None
    assert state.routes_for("nobody", "prod") is None


def test_routes_for_follows_new_latest_code_before_it_is_saved(tmp_path):
    # A deployment swaps the runtime's _spec, then awaits the old process's stop, then saves:
    # requests in between must reach the new code, not relaunch the old.
    state = state_with_canary(tmp_path)
    state.endpoints["ep"] = {**state.endpoints["ep"], "targetVersion": "LATEST", "routingConfiguration": {}}
    state.save()
    assert [spec.package_sha256 for spec, _ in state.routes_for("agent", "prod")] == ["p0"]
    state.runtimes["rt"].update(_spec={**state.runtimes["rt"]["_spec"], "package": "p9"})
    assert [spec.package_sha256 for spec, _ in state.routes_for("agent", "prod")] == ["p9"]
    assert State(tmp_path).routes_for("agent", "prod")[0][0].package_sha256 == "p0"  # not saved yet



def test_admin_routes_need_loopback_and_the_admin_token(tmp_path):
    """One guard, the server's middleware, covers every /_emulator/ path: the request log, the
    agents' output and the fault settings too. A loopback caller without the token in the 0600
    file beside the state (another local user) is refused like a remote one."""
    from aiohttp.test_utils import TestClient, TestServer

    from agentrun_tasks.emulator import admin
    from agentrun_tasks.emulator.server import Emulator, build_app

    emulator = Emulator(tmp_path)
    token_file = tmp_path / ".agentrun" / "local" / admin.TOKEN_FILE
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = admin.plain(admin.headers(tmp_path))[admin.HEADER]
    assert token == emulator.admin_token
    assert len(token) >= 32

    async def scenario() -> dict[str, int]:
        app = build_app(emulator)
        remote = {"address": "127.0.0.1"}

        @web.middleware
        async def peer(request, handler):  # the peer address a real socket would report
            return await handler(request.clone(remote=remote["address"]))

        app.middlewares.insert(0, peer)
        statuses = {}
        async with TestClient(TestServer(app)) as client:
            for address in ("127.0.0.1", "::1", "192.0.2.7"):
                remote["address"] = address
                for shown, headers in (("token", {admin.HEADER: token}), ("none", {}),
                                       ("wrong", {admin.HEADER: token[:-1] + "x"})):
                    for method, path in (("GET", "/_emulator/requests"), ("GET", "/_emulator/health"),
                                         ("GET", "/_emulator/output?runtime=x"), ("POST", "/_emulator/faults")):
                        async with client.request(method, path, headers=headers, json={"throttle": 1.0}) as answer:
                            statuses[f"{address} {shown} {method} {path}"] = answer.status
        return statuses

    statuses = asyncio.run(scenario())
    for key, status in statuses.items():
        address, shown = key.split()[:2]
        expected = 403 if address == "192.0.2.7" else 401 if shown != "token" else None
        if expected is not None:
            assert status == expected, key
        else:
            assert status in (200, 404), key  # 404: no runtime named x
    assert emulator.faults.throttle == 1.0  # changed by the callers with the token only:
    assert [k for k, v in statuses.items() if "POST" in k and v == 200] == [
        "127.0.0.1 token POST /_emulator/faults", "::1 token POST /_emulator/faults"]


def test_a_token_file_others_could_read_is_replaced(tmp_path):
    from agentrun_tasks.emulator import admin

    directory = tmp_path / "state"
    directory.mkdir()
    first = admin.ensure_token(directory)
    assert admin.ensure_token(directory) == first  # kept across restarts
    (directory / admin.TOKEN_FILE).chmod(0o644)
    second = admin.ensure_token(directory)
    assert second != first
    assert (directory / admin.TOKEN_FILE).stat().st_mode & 0o777 == 0o600
    assert admin.headers(tmp_path) == {}  # no emulator state under tmp_path: nothing to send
