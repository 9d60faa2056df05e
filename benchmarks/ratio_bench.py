"""Issue 22's two ratios, from interleaved pairs in one run: ``invoke --list`` and an unchanged
``invoke deploy`` (on the embedded AgentRun at ``latency=0``), each over bare ``invoke --version``
run right before it, so a busy moment of this shared machine hits both sides of a pair.

    python benchmarks/ratio_bench.py [--pairs 15] [--json FILE]
    python benchmarks/ratio_bench.py --smoke     # one pair of each, no figures

It works in a throw-away copy of ``code/``, ``envs/`` and ``tasks.py`` with the integration tests'
child environment (``agentrun_tasks.testing.project``), deploys once (untimed) so that every timed
deploy finds the runtime unchanged, and reports the median of the per-pair ratios with their
spread (and, as a third row, the floor an unchanged deploy cannot go below: bare invoke plus
importing the official AgentRun SDK's client), with bytecode caches as this machine keeps them
(warm: one untimed run of each first).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import smoke

from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.testing.project import Project, clean_environ

REPO = Path(__file__).resolve().parents[1]
INVOKE = Path(sys.executable).with_name("invoke")
# What an unchanged deploy cannot go below while its one code path reads through the official SDK:
# bare invoke plus importing the SDK's client (tea-openapi, credentials, Tea.core with aiohttp).
SDK_FLOOR = ("import alibabacloud_agentrun20250910.client\nfrom invoke.main import program\n"
             "program.run(['invoke', '--version'])")


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return seconds


def pairs(project: Project, env: dict, command: list[str], count: int) -> list[tuple[float, float]]:
    """(bare ``invoke --version``, ``command``) seconds, ``count`` times, interleaved."""
    base = [str(INVOKE), "--version"]
    return [(timed(base, project.root, env), timed(command, project.root, env)) for _ in range(count)]


def summary(rows: list[tuple[float, float]]) -> dict:
    ratios = sorted(b / a for a, b in rows)
    return {"ratio_median": round(statistics.median(ratios), 2), "ratio_min": round(ratios[0], 2),
            "ratio_max": round(ratios[-1], 2), "base_median_s": round(statistics.median(a for a, _ in rows), 3),
            "command_median_s": round(statistics.median(b for _, b in rows), 3), "pairs": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    smoke.add_flag(parser)
    args = parser.parse_args()
    count = 1 if args.smoke else args.pairs
    env = clean_environ(AGENTRUN_EMULATOR_FAULTS="latency=0")
    commands = {"invoke --list": [str(INVOKE), "--list"], "unchanged invoke deploy": [str(INVOKE), "deploy"],
                "floor: invoke --version + importing the AgentRun SDK": [sys.executable, "-c", SDK_FLOOR]}
    with tempfile.TemporaryDirectory(prefix="ratio-bench-") as tmp:
        project = Project.copy(REPO, Path(tmp) / "project")
        try:
            for argv in commands.values():  # untimed: the runtime exists, the caches are written
                timed(argv, project.root, env)
            results = {label: summary(pairs(project, env, argv, count)) for label, argv in commands.items()}
        finally:
            lifecycle.stop(project.root)
    if args.smoke:
        return smoke.passed(", ".join(commands) + " ran")
    for label, row in results.items():
        print(f"{label} / invoke --version: median {row['ratio_median']}x (min {row['ratio_min']}, max "
              f"{row['ratio_max']}; {row['command_median_s']} s vs {row['base_median_s']} s, {row['pairs']} pairs)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
