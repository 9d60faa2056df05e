"""The probe against real aiohttp servers on 127.0.0.1: healthy, 30% 500s, +500 ms."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import socket
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from agentrun_tasks.adapters import probe as probes
from agentrun_tasks.adapters.probe import emulator_log_source, probe, probe_pair, samples_from_request_log
from agentrun_tasks.core.analysis import analyse
from agentrun_tasks.core.errors import Interrupted
from agentrun_tasks.core.health import request_body
from agentrun_tasks.core.model import AnalysisConfig, HealthConfig
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.testing.aio import serving

REPLY = {"choices": [{"message": {"role": "assistant", "content": "pong"}}]}


@asynccontextmanager
async def agents():
    """One server, three agents by path prefix; yields (base url, the requests each received)."""
    seen: dict[str, list] = {"healthy": [], "faulty": [], "slow": [], "hang": []}
    counter = itertools.count()

    async def chat(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in seen:
            raise web.HTTPNotFound()
        seen[kind].append({"headers": dict(request.headers), "body": await request.json()})
        if kind == "faulty" and next(counter) % 10 < 3:  # exactly 3 in every 10
            return web.json_response({"error": "fault"}, status=500)
        if kind == "slow":
            await asyncio.sleep(0.5)
        if kind == "hang":
            await asyncio.sleep(2)
        return web.json_response(REPLY)

    app = web.Application()
    async def custom_health(request: web.Request) -> web.Response:
        seen.setdefault("healthz", []).append({"headers": dict(request.headers), "body": await request.json()})
        return web.json_response({"status": "ok"}, status=202)

    async def not_a_chat(request: web.Request) -> web.Response:
        return web.Response(text="<html>welcome to nginx</html>")  # a 2xx that is no agent

    app.router.add_post("/{kind}/openai/v1/chat/completions", chat)
    app.router.add_post("/custom/healthz", custom_health)
    app.router.add_post("/proxy/openai/v1/chat/completions", not_a_chat)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def run(coro):
    return asyncio.run(coro)


def test_healthy_agent_steady_rate_and_request_shape():
    async def go():
        async with agents() as (base, seen):
            return await probe(f"{base}/healthy/", duration=1.0, rate=10), seen

    samples, seen = run(go())
    assert len(samples) == 10
    assert all(s.ok for s in samples)
    assert all(s.latency_ms > 0 for s in samples)
    stamps = [s.ts for s in samples]
    assert stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] >= 0.9 - 0.05
    assert seen["healthy"][0]["body"] == request_body(HealthConfig())


def test_faulty_agent_gives_failed_samples():
    async def go():
        async with agents() as (base, _):
            return await probe(f"{base}/faulty", duration=1.0, rate=20)

    samples = run(go())
    assert len(samples) == 20
    assert sum(not s.ok for s in samples) == 6


def test_slow_agent_latency_is_measured():
    async def go():
        async with agents() as (base, _):
            return await probe(f"{base}/slow", duration=0.5, rate=10)

    samples = run(go())
    assert len(samples) == 5
    assert all(s.ok and s.latency_ms >= 500 for s in samples)


def test_timeouts_and_refused_connections_are_failed_samples_not_errors():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def go():
        async with agents() as (base, _):
            return await asyncio.gather(probe(f"{base}/hang", duration=0.2, rate=10, timeout=0.2),
                                        probe(closed, duration=0.2, rate=10, timeout=1))

    hung, refused = run(go())
    assert len(hung) == 2
    assert not any(s.ok for s in hung)
    assert len(refused) == 2
    assert not any(s.ok for s in refused)


def test_custom_request_and_secret_header(caplog, capsys):
    sentinel = "sk-PROBE-SENTINEL-5f1c9e"
    token = Secret(sentinel, source="test")

    async def go():
        async with agents() as (base, seen):
            await probe(f"{base}/healthy", duration=0.1, rate=10, health=HealthConfig(model="m", prompt="hi"),
                        headers={"Authorization": token, "X-Trace": "probe"})
            return seen

    with caplog.at_level(logging.DEBUG):
        seen = run(go())
    got = seen["healthy"][0]
    assert got["body"]["model"] == "m"
    assert got["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert got["headers"]["Authorization"] == sentinel
    assert got["headers"]["X-Trace"] == "probe"
    out = capsys.readouterr()
    assert sentinel not in out.out + out.err + caplog.text


def test_probe_follows_the_health_block_like_the_health_check():
    """A custom health path and status: the probe asks there and accepts what the check accepts."""
    health = HealthConfig(path="/healthz", expect_status=202)

    async def go():
        async with agents() as (base, seen):
            good = await probe(f"{base}/custom", duration=0.2, rate=10, health=health)
            default_on_custom = await probe(f"{base}/custom", duration=0.2, rate=10)
            return good, default_on_custom, seen

    good, default_on_custom, seen = run(go())
    assert len(seen["healthz"]) == 2
    assert all(s.ok for s in good)
    assert not any(s.ok for s in default_on_custom)  # the agent has no chat path: 404s


def test_a_2xx_that_is_no_chat_completion_is_a_failed_sample():
    async def go():
        async with agents() as (base, _):
            return await probe(f"{base}/proxy", duration=0.2, rate=10)

    assert not any(s.ok for s in run(go()))


@pytest.mark.parametrize(("kind", "gate"), [("faulty", "max_error_rate"), ("slow", "max_latency_increase_ms")])
def test_probe_pair_feeds_analysis_that_catches_a_bad_candidate(kind, gate):
    async def go():
        async with agents() as (base, seen):
            pair = await probe_pair(f"{base}/{kind}", f"{base}/healthy", duration=1.0, rate=30)
            return pair, seen

    (candidate, stable), seen = run(go())
    assert len(candidate) == len(stable) == 30 == len(seen[kind]) == len(seen["healthy"])
    verdict = analyse(candidate, stable, AnalysisConfig())
    assert verdict.result == "fail"
    assert gate in verdict.reason


def test_probe_pair_of_healthy_agents_passes():
    async def go():
        async with agents() as (base, _):
            return await probe_pair(f"{base}/healthy", f"{base}/healthy", duration=1.0, rate=30)

    candidate, stable = run(go())
    assert analyse(candidate, stable, AnalysisConfig()).result == "pass"


def test_bad_arguments():
    with pytest.raises(ValueError, match="must be positive"):
        run(probe("http://127.0.0.1:1", duration=0, rate=5))


def test_samples_from_request_log():
    rows = [
        {"ts": 3.0, "status": 200, "latency_ms": 12, "outcome": "success", "version": "4"},
        {"ts": 1.0, "status": 500, "latency_ms": 3.5, "outcome": "fail", "version": "4"},
        {"ts": 2.0, "status": 200, "latency_ms": 9, "outcome": "success", "version": 3},
    ]
    mine = samples_from_request_log(rows, version="4")
    assert [(s.ts, s.ok, s.latency_ms) for s in mine] == [(1.0, False, 3.5), (3.0, True, 12.0)]
    assert [s.ts for s in samples_from_request_log(rows)] == [1.0, 2.0, 3.0]
    assert samples_from_request_log(rows, version="3")[0].latency_ms == 9.0


def test_emulator_log_source_asks_for_the_endpoint_and_window_and_splits_by_version():
    asked = []

    async def requests(request: web.Request) -> web.Response:
        asked.append(dict(request.query))
        return web.json_response([
            {"ts": 5.0, "status": 500, "latency_ms": 4, "outcome": "fail", "version": "4"},
            {"ts": 4.0, "status": 200, "latency_ms": 8, "outcome": "success", "version": "3"},
        ])

    app = web.Application()
    app.router.add_get("/_emulator/requests", requests)
    with serving(app) as url:
        candidate, stable = emulator_log_source(url, "rt", "prod", stable="3", candidate="4")(1.5, 6.0)
    assert asked == [{"runtime": "rt", "endpoint": "prod", "since": "1.5", "until": "6.0"}]
    assert [(s.ts, s.ok) for s in candidate] == [(5.0, False)]
    assert [(s.ts, s.ok) for s in stable] == [(4.0, True)]


async def _dropped_future(exception: BaseException) -> None:
    """A future holding ``exception`` that nobody retrieves, as asyncio leaves one when an
    interrupt raised inside a request task escapes the loop."""
    future = asyncio.get_running_loop().create_future()
    future.set_exception(exception)
    del future
    gc.collect()


def test_an_interrupt_already_passed_on_is_not_reported_again_but_other_exceptions_are(caplog):
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(_dropped_future(Interrupted(2, "SIGINT")))
    assert "exception was never retrieved" in caplog.text  # plain asyncio.run prints a traceback
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        probes.run(_dropped_future(Interrupted(2, "SIGINT")))
        assert caplog.text == ""
        probes.run(_dropped_future(ValueError("a bug")))
    assert "ValueError: a bug" in caplog.text
