"""What the emulator's data plane adds: wrk straight to the agent process versus through an endpoint.

    apt-get install -y wrk          # Debian/Ubuntu: the load tool (https://github.com/wg/wrk)
    python benchmarks/dataplane_bench.py [--duration 10] [--connections 1,32] [--json FILE]

Runs the data plane (supervisor, proxy, request log) in this process's event loop, serving
the example agent in code/ as version 1 of one endpoint, and drives both URLs with the same
chat-completion POST: at each connection count, first straight to the agent process, then
through the endpoint. Prints requests/s, p50 and p99 of each, the ratio and the added latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path

import smoke
from aiohttp import web

from agentrun_tasks.emulator.dataplane import add_routes
from agentrun_tasks.emulator.requestlog import RequestLog
from agentrun_tasks.emulator.spec import ProcessSpec
from agentrun_tasks.emulator.supervisor import Supervisor

CODE = Path(__file__).resolve().parent.parent / "code"
CHAT = "/openai/v1/chat/completions"
# wrk reports through done(): one JSON line, latencies in microseconds.
LUA = """
wrk.method = "POST"
wrk.body = '{"model": "example-agent", "messages": [{"role": "user", "content": "ping"}]}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, '
    .. '"p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


class OneEndpoint:
    """The smallest route table: endpoint ``bench`` of runtime ``bench`` serves one version."""

    def __init__(self, spec: ProcessSpec):
        self.spec = spec

    def routes_for(self, runtime: str, endpoint: str):
        return [(self.spec, 1.0)] if (runtime, endpoint) == ("bench", "bench") else None

    def credential_for(self, runtime: str) -> None:
        return None  # no data-plane credential: what is measured is the proxy, not the check


async def wrk(url: str, script: Path, connections: int, duration: int) -> dict:
    """One wrk run (a single thread: the machine's cores also serve the agent and the proxy)."""
    process = await asyncio.create_subprocess_exec(
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    line = next((x for x in out.decode().splitlines() if x.startswith("WRK_JSON ")), None)
    if process.returncode or line is None:
        sys.exit(f"wrk failed on {url}:\n{out.decode()}")
    result = json.loads(line.removeprefix("WRK_JSON "))
    if result["errors"] or result["non2xx"] or not result["requests"]:  # figures of failures measure nothing
        sys.exit(f"wrk on {url}: {result['requests']} requests, {result['errors']} errors, "
                 f"{result['non2xx']} not 2xx")
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


async def chat_ok(url: str) -> None:
    """One chat completion POST that must answer 200 with a completion (the smoke check)."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(url, json={"model": "example-agent",
                                       "messages": [{"role": "user", "content": "ping"}]}) as answer:
        body = await answer.json()
        assert answer.status == 200, (answer.status, body)
        assert body["choices"][0]["message"]["content"], (answer.status, body)


async def bench(duration: int, connection_counts: list[int], smoke_only: bool = False) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="dataplane-bench-"))
    spec = ProcessSpec("bench", "bench", "1", CODE, ("python", "app.py"), 9000)
    supervisor = Supervisor(work / "logs")
    requestlog = RequestLog(work / "requests.db")
    app = web.Application()
    add_routes(app, OneEndpoint(spec), supervisor, requestlog)
    runner = web.AppRunner(app, access_log=None)  # an access log line per request halves req/s
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        direct = await supervisor.ensure(spec) + CHAT
        endpoint = f"http://127.0.0.1:{port}/agent-runtimes/bench/endpoints/bench/invocations{CHAT}"
        if smoke_only:
            for url in (direct, endpoint, direct, endpoint):
                await chat_ok(url)
            return [{"logged": len(requestlog.query(runtime="bench", endpoint="bench"))}]
        script = work / "post.lua"
        script.write_text(LUA)
        await wrk(endpoint, script, 4, 1)  # warm up both paths and the proxy's connection pool
        rows = []
        for connections in connection_counts:
            a = await wrk(direct, script, connections, duration)
            b = await wrk(endpoint, script, connections, duration)
            rows.append({"connections": connections, "direct": a, "endpoint": b})
        rows.append({"logged": len(requestlog.query(runtime="bench", endpoint="bench"))})
        return rows
    finally:
        await supervisor.stop_all()
        await runner.cleanup()
        requestlog.close()
        shutil.rmtree(work, ignore_errors=True)


def report(rows: list[dict]) -> str:
    lines = [f"{'conns':>5} {'path':<9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"]
    for row in rows:
        if "connections" not in row:
            lines.append(f"requests in the request log: {row['logged']}")
            continue
        for name in ("direct", "endpoint"):
            r = row[name]
            lines.append(f"{row['connections']:>5} {name:<9} {r['rps']:>8.0f} "
                         f"{r['p50_us'] / 1000:>7.2f} {r['p99_us'] / 1000:>7.2f} "
                         f"{r['errors'] + r['non2xx']:>6}")
        a, b = row["direct"], row["endpoint"]
        lines.append(f"{'':>5} endpoint/direct: {b['rps'] / a['rps']:.2f} x req/s, "
                     f"added p50 {(b['p50_us'] - a['p50_us']) / 1000:+.2f} ms, "
                     f"p99 {(b['p99_us'] - a['p99_us']) / 1000:+.2f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,32",
                        help="comma-separated connection counts (1 = latency, more = throughput)")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:  # no wrk needed: a few chat completions straight and through the endpoint
        asyncio.run(bench(0, [], smoke_only=True))
        return smoke.passed("chat completions answered straight and through the endpoint")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), then run again")
    rows = asyncio.run(bench(args.duration, [int(c) for c in args.connections.split(",")]))
    print(report(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
