"""False rollbacks and power of the canary analysis, on real probe traffic.

Starts local agents as separate processes on 127.0.0.1 (aiohttp, natural latency jitter and a
1% background error rate): a stable and a candidate with identical behaviour, a candidate with
30% errors and one with +500 ms. Then:

* runs ``--releases`` full canary releases of the healthy candidate (every step of
  ``ReleaseConfig.steps`` is one analysis window of ``--window`` seconds at ``--rate`` requests/s
  per side, probed side by side with the stable) and counts the releases that any step would
  have rolled back (false rollbacks), and inconclusive steps;
* probes ``--trials`` first steps of each bad candidate and counts how often it is caught.

For contrast it also judges every window with naive point-estimate gates (error rate > 5%,
slowest request > p99 limit, p50 difference > 200 ms), which is what a plain threshold check does.

    python benchmarks/analysis_false_rollback.py [--releases 30] [--window 1.5] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time
from contextlib import contextmanager

import smoke
from aiohttp import web

from agentrun_tasks.adapters.probe import probe_pair
from agentrun_tasks.core.analysis import analyse, format_rows
from agentrun_tasks.core.model import AnalysisConfig, ReleaseConfig
from agentrun_tasks.core.report import format_table

KINDS = {  # extra latency (ms), error rate
    "stable": (0.0, 0.01),
    "candidate": (0.0, 0.01),
    "faulty": (0.0, 0.30),
    "slow": (500.0, 0.01),
}


def serve(kind: str) -> None:
    """Child process: one agent of ``kind`` on an ephemeral port, printed on stdout."""
    extra_ms, error_rate = KINDS[kind]
    rng = random.Random()

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep((rng.lognormvariate(3.7, 0.35) + extra_ms) / 1000)  # median ~40 ms
        if rng.random() < error_rate:
            return web.json_response({"error": "fault"}, status=500)
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": "pong"}}]})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/openai/v1/chat/completions", chat)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


@contextmanager
def agents():
    """Start one process per agent kind; yield kind -> base URL; always stop them."""
    procs = {k: subprocess.Popen([sys.executable, __file__, "--serve", k], stdout=subprocess.PIPE, text=True)
             for k in KINDS}
    try:
        yield {k: f"http://127.0.0.1:{p.stdout.readline().strip()}" for k, p in procs.items()}
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait(timeout=10)
            p.stdout.close()


def naive_fails(candidate, stable, cfg: AnalysisConfig) -> bool:
    def p50(xs):
        xs = sorted(s.latency_ms for s in xs if s.ok)
        return xs[len(xs) // 2] if xs else 0.0

    errors = sum(not s.ok for s in candidate) / len(candidate)
    slowest = max((s.latency_ms for s in candidate if s.ok), default=0.0)
    return (errors > cfg.max_error_rate or slowest > cfg.max_p99_ms
            or p50(candidate) - p50(stable) > cfg.max_latency_increase_ms)


async def window(urls, kind: str, args, cfg):
    candidate, stable = await probe_pair(urls[kind], urls["stable"], duration=args.window, rate=args.rate)
    return analyse(candidate, stable, cfg), naive_fails(candidate, stable, cfg), len(candidate)


async def bench(urls, args) -> list[list]:
    cfg, steps = AnalysisConfig(), ReleaseConfig().steps
    rolled_back = naive_rolled_back = inconclusive = 0
    example = None
    for _ in range(args.releases):
        results = [await window(urls, "candidate", args, cfg) for _ in steps]
        verdicts = [v for v, _, _ in results]
        inconclusive += sum(v.result == "inconclusive" for v in verdicts)
        failed = [v for v in verdicts if v.result == "fail"]
        rolled_back += bool(failed)
        example = example or (failed[0] if failed else None)
        naive_rolled_back += any(naive for _, naive, _ in results)
    n = results[0][2]
    rows = [["healthy releases rolled back (false)", f"{args.releases} x {len(steps)} steps", n,
             rolled_back, naive_rolled_back, inconclusive]]
    for kind in ("faulty", "slow"):
        results = [await window(urls, kind, args, cfg) for _ in range(args.trials)]
        rows.append([f"{kind} candidate caught at step 1", f"{args.trials} windows", n,
                     sum(v.result == "fail" for v, _, _ in results), sum(naive for _, naive, _ in results),
                     sum(v.result == "inconclusive" for v, _, _ in results)])
        if kind == "faulty" and not args.smoke:
            print(format_table(*format_rows(results[0][0])), end="\n\n")
    if example and not args.smoke:
        print("a false rollback:", example.reason)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--releases", type=int, default=30)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--window", type=float, default=1.5, help="seconds of probing per step")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second per side")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    if args.smoke:
        args.releases, args.trials, args.window = 1, 1, 0.5
    started = time.monotonic()
    with agents() as urls:
        rows = asyncio.run(bench(urls, args))
    if args.smoke:
        assert all(row[2] > 0 for row in rows), rows  # every window's probes got answers
        return smoke.passed("probe windows against healthy, faulty and slow agents analysed")
    print(format_table(["scenario", "runs", "requests/side/window", "failed (analysis)",
                        "failed (naive gates)", "inconclusive"], rows))
    print(f"\n{time.monotonic() - started:.0f} s wall time")


if __name__ == "__main__":
    main()
