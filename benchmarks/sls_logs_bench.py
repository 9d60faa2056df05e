"""What ``invoke logs`` on the cloud spends reading SLS: one read of the request log and the agent
output (GetLogsV2 pages of 100 rows, the official SDK, signed, zstd-compressed answers) from a
local SLS on 127.0.0.1 (agentrun_tasks.testing.sls), for a quiet and a busy runtime.

    python benchmarks/sls_logs_bench.py [--runs 7] [--json out.json]

The local SLS answers at once; a real one adds its query time and the network per page.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import smoke

from agentrun_tasks.adapters.openapi_connection import Connection
from agentrun_tasks.adapters.sls_client import SlsProject
from agentrun_tasks.adapters.sls_logs import SlsLogs
from agentrun_tasks.core import fclogs
from agentrun_tasks.core.credentials import Credentials
from agentrun_tasks.core.logs import LogQuery
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.testing.sls import local_sls

KEY_ID, SECRET, RUNTIME = "LTAIFAKEBENCH000000001", "bench-secret", "ar-bench"


def rows(requests: int, now: int) -> list[dict]:
    start = now - 3000
    metrics = [{"__topic__": fclogs.request_topic(RUNTIME), "__time__": start + i % 3000, "versionId": "1",
                "qualifier": "prod", "statusCode": 200, "durationMs": 30, "requestId": f"1-{i}"}
               for i in range(requests)]
    output = [{"__topic__": fclogs.output_topic(RUNTIME), "__time__": start + i % 3000, "versionId": "1",
               "message": f"line {i}"} for i in range(requests)]
    return metrics + output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
    figures = {}
    now = int(time.time())
    with local_sls({KEY_ID: SECRET}) as sls:
        os.environ.update(sls.proxy_env())
        for requests in (50,) if args.smoke else (50, 2000):
            logstore = f"store{requests}"
            sls.put("bench", logstore, rows(requests, now))
            creds = Credentials(Secret(KEY_ID, source="bench"), Secret(SECRET, source="bench"), None, None, {})
            project = SlsProject(Connection("cn-hangzhou.log.aliyuncs.com", "http", "cn-hangzhou", creds), "bench")
            reader = SlsLogs(project, logstore, RUNTIME)
            times, calls = [], len(sls.calls)
            for _ in range(args.runs):
                began = time.perf_counter()
                found = reader.requests(LogQuery(RUNTIME, now - 3600)), reader.output(LogQuery(RUNTIME, now - 3600))
                times.append((time.perf_counter() - began) * 1000)
            assert len(found[0]) == requests, (len(found[0]), requests)
            assert found[1], (len(found[0]), requests)
            if args.smoke:
                return smoke.passed(f"{requests} requests and their output lines read back from SLS")
            pages = (len(sls.calls) - calls) // args.runs
            figures[requests] = {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1),
                                 "max_ms": round(max(times), 1), "pages": pages, "requests_read": len(found[0])}
            print(f"{requests} requests + {requests} output lines: median {figures[requests]['median_ms']} ms "
                  f"(min {figures[requests]['min_ms']}, max {figures[requests]['max_ms']}), {pages} GetLogsV2 pages")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
