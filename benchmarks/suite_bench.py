"""Wall time of the test suite: the README's one command (``pytest``: every test, on the xdist
workers conftest.py chooses) and the fast lane (``pytest -m "not integration"``), run in turn.

    python benchmarks/suite_bench.py [--runs 2] [--lane full,fast] [--json FILE]
    python benchmarks/suite_bench.py --smoke      # seconds: a few fast tests, no figures

Each run is a fresh ``python -m pytest -q -p no:cacheprovider`` in this checkout (the cache
plugin off, so no run reorders tests by the previous one's failures); its wall time, the CPU
time of the whole process tree (``RUSAGE_CHILDREN``) and its pass/fail line are printed. A run
that fails is reported and stops the benchmark: a figure for a failing suite means nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import smoke

REPO = Path(__file__).resolve().parents[1]
LANES = {"full": [], "fast": ["-m", "not integration"]}
SMOKE = ["-m", "not integration", "-n", "0", "tests/core/test_rollout.py", "tests/test_layers.py"]


def run_pytest(extra: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process tree, pytest's last line)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra], cwd=REPO,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    if proc.returncode != 0:
        sys.exit(f"pytest {' '.join(extra)} failed (exit {proc.returncode}): {last}\n{proc.stdout[-3000:]}")
    return wall, cpu, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--lane", default="full,fast", help="comma-separated: full, fast")
    parser.add_argument("--json", help="write the figures to this file")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        wall, _, last = run_pytest([*SMOKE])
        smoke.passed(f"{last} in {wall:.1f} s")
        return
    figures: dict[str, list[dict]] = {}
    for run in range(args.runs):
        for lane in args.lane.split(","):
            wall, cpu, last = run_pytest(LANES[lane])
            figures.setdefault(lane, []).append({"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "result": last})
            print(f"run {run + 1} {lane}: {wall:.0f} s wall, {cpu:.0f} s CPU: {last}", flush=True)
    for lane, rows in figures.items():
        walls = [r["wall_s"] for r in rows]
        print(f"{lane}: median {statistics.median(walls):.0f} s wall (min {min(walls):.0f}, max {max(walls):.0f}, "
              f"{len(walls)} runs, {os.cpu_count()} cores)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
