"""What notifications cost a task: the time ``Notifier.send`` holds the caller (the critical
path) and the time ``finish`` waits at the end, for healthy, flaky, hung and dead receivers
(local receivers of agentrun_tasks.testing.receivers on 127.0.0.1).

    python benchmarks/notify_bench.py [--runs 20] [--timeout 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import time
from contextlib import ExitStack

import smoke

from agentrun_tasks.adapters.channels import open_channel
from agentrun_tasks.core.notify import ChannelConfig, Event
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.flows.notify import Notifier
from agentrun_tasks.testing.receivers import robot

EVENT = Event("deploy.succeeded", "prod", "demo", version="2", commit="abc123", actor="bench")
KINDS = ("slack", "dingtalk", "feishu", "wecom", "webhook")


def one_round(robots, timeout: float) -> tuple[float, float, int]:
    """(ms in send, ms in finish, messages delivered) for one event to every robot."""
    channels = []
    for r in robots:
        cfg = ChannelConfig(r.kind, f"{r.kind}-{r.token[:6]}", Secret(r.url))
        channels.append((cfg, open_channel(r.kind, cfg.name, Secret(r.url), Secret(r.secret) if r.secret else None)))
    notifier = Notifier(channels, Reporter(out=io.StringIO(), err=io.StringIO()), timeout=timeout)
    started = time.perf_counter()
    notifier.send(EVENT)
    sent = time.perf_counter()
    results = notifier.wait()
    done = time.perf_counter()
    return (sent - started) * 1000, (done - sent) * 1000, sum(r.ok for r in results)


def scenario(name: str, runs: int, timeout: float, setup) -> dict:
    sends, finishes, delivered = [], [], 0
    for _ in range(runs):
        with ExitStack() as stack:
            robots = [stack.enter_context(robot(kind, secret="SECbench0123456789" if kind != "slack" else None))
                      for kind in KINDS]
            for r in robots:
                setup(r)
            send_ms, finish_ms, ok = one_round(robots, timeout)
        sends.append(send_ms)
        finishes.append(finish_ms)
        delivered += ok
    return {"scenario": name, "runs": runs, "send_ms_p50": statistics.median(sends), "send_ms_max": max(sends),
            "finish_ms_p50": statistics.median(finishes), "finish_ms_max": max(finishes),
            "delivered": f"{delivered}/{runs * len(KINDS)}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--json")
    smoke.add_flag(parser)
    args = parser.parse_args()
    # A hung receiver answers after the channel gave up on it; aiohttp logs each such answer.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

    def hung(r):
        r.delay = 60.0

    def dead(r):
        r.always = True

    if args.smoke:
        rows = [scenario("healthy, 5 channels", 1, args.timeout, lambda r: None),
                scenario("each fails twice (HTTP 500)", 1, args.timeout, lambda r: r.fail_next(2, "500"))]
        assert [r["delivered"] for r in rows] == [f"{len(KINDS)}/{len(KINDS)}"] * 2, rows
        return smoke.passed("5 channels delivered, healthy and after two retries")
    rows = [scenario("healthy, 5 channels", args.runs, args.timeout, lambda r: None),
            scenario("each fails twice (HTTP 500)", args.runs, args.timeout, lambda r: r.fail_next(2, "500")),
            scenario("each hangs 60 s", max(1, args.runs // 10), args.timeout, hung),
            scenario("each answers 503 always", max(1, args.runs // 10), args.timeout, dead)]
    print(f"{'scenario':32} {'runs':>4} {'send p50/max ms':>18} {'finish p50/max ms':>20} {'delivered':>10}")
    for row in rows:
        print(f"{row['scenario']:32} {row['runs']:>4} {row['send_ms_p50']:>8.2f} / {row['send_ms_max']:<7.2f} "
              f"{row['finish_ms_p50']:>9.1f} / {row['finish_ms_max']:<8.1f} {row['delivered']:>10}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
