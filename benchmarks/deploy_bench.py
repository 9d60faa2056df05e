"""Deploy benchmark: cold, unchanged and one-line-change ``invoke deploy`` on the local emulator.

    python benchmarks/deploy_bench.py [--cold 3] [--warm 5] [--changed 3] [--json FILE]

Every figure is a real ``invoke`` process in a throw-away copy of this project (code/, envs/,
tasks.py in a temporary folder, the environment stripped of CI variables, the null keyring),
as the integration tests drive it; the emulator each copy starts is stopped afterwards. The copy
also holds agentrun_tasks/ without compiled caches (invoke puts the project folder first on
sys.path), so whether the library's .pyc files exist is known, not left to earlier runs.

- cold: a fresh copy: emulator start, build, create, READY, health check;
- unchanged: the same copy again with nothing changed;
- changed: after a one-line change of GREETING in code/app.py: rebuild, update, READY, health;
- unchanged again with PYTHONDONTWRITEBYTECODE removed after a warm-up run (this machine sets it,
  so as-is every run compiles the library's modules from source).

``invoke deploy --json`` gives the library's own timings (build, submit, ready, health); "outside"
is the wall time around them: interpreter and invoke start, imports, loading the environment,
finding or starting the emulator. ``submit`` includes the first control-plane call, which imports
the Alibaba Cloud SDK; its import time is measured on its own with ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import smoke
from startup_bench import quantiles

from agentrun_tasks.core.report import format_table
from agentrun_tasks.emulator import lifecycle

REPO = Path(__file__).resolve().parents[1]
# The integration tests' throw-away project (copying, clean child environment, env-file edits) is
# reused as is, so the benchmark drives exactly what the tests check.
from agentrun_tasks.testing.project import Project, clean_environ  # noqa: E402

SDK_MODULE = "alibabacloud_agentrun20250910.client"
NO_PYC = "PYTHONDONTWRITEBYTECODE"
PHASES = ("build", "submit", "ready", "health", "total")


@contextmanager
def throwaway_project() -> Iterator[Project]:
    """A copy of code/, envs/, tasks.py and the package in a temporary folder; its emulator is stopped at the end."""
    with tempfile.TemporaryDirectory(prefix="agentrun-bench-") as tmp:
        project = Project.copy(REPO, Path(tmp) / "project", with_package=True)
        try:
            yield project
        finally:
            lifecycle.stop(project.root)


def timed_invoke(project: Project, *args: str, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = project.invoke(*args, env=env)
    return time.perf_counter() - started, proc


def deploy(project: Project, env: dict | None = None) -> dict:
    """One ``invoke deploy --json``: wall seconds and the library's timings."""
    seconds, proc = timed_invoke(project, "deploy", "--json", env=env)
    if proc.returncode != 0:
        sys.exit(f"invoke deploy exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    data = json.loads(proc.stdout)
    return {"wall": seconds, "action": data["action"], "reused_build": data["artifact"]["reused"], **data["timings"]}


def summarize(name: str, runs: list[dict]) -> dict:
    row = {"scenario": name, "runs": len(runs), "actions": sorted({r["action"] for r in runs}),
           "wall": quantiles([r["wall"] for r in runs])}
    for phase in PHASES:
        row[phase] = statistics.median(r[phase] for r in runs)
    row["outside"] = statistics.median(r["wall"] - r["total"] for r in runs)
    return row


def emulator_start(repeat: int) -> dict:
    """Seconds for ``lifecycle.ensure_running`` in a fresh folder (what a cold deploy pays first)."""
    times = []
    for _ in range(repeat):
        with throwaway_project() as project:
            started = time.perf_counter()
            lifecycle.ensure_running(project.root)
            times.append(time.perf_counter() - started)
    return quantiles(times)


def sdk_import_ms(repeat: int = 3) -> float:
    """Median total of ``python -X importtime -c 'import <SDK client>'``, caches as this machine has them."""
    totals = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {SDK_MODULE}"],
                              capture_output=True, text=True, check=True)
        last = [line for line in proc.stderr.splitlines() if line.rstrip().endswith(f"| {SDK_MODULE}")][-1]
        totals.append(int(last.split("|")[1]) / 1000)
    return statistics.median(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=3, help="cold deploys, each in a fresh copy")
    parser.add_argument("--warm", type=int, default=5, help="unchanged deploys per mode")
    parser.add_argument("--changed", type=int, default=3, help="deploys after a one-line change")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:  # deploy() exits unless each deploy succeeds
        with throwaway_project() as project:
            actions = [deploy(project)["action"] for _ in range(2)]
            project.set_greeting("Hello from the smoke run")
            actions.append(deploy(project)["action"])
        return smoke.passed(f"deploys: {', '.join(actions)}")

    as_is = clean_environ()
    cached = {k: v for k, v in as_is.items() if k != NO_PYC}
    cold, warm, warm_cached, changed = [], [], [], []
    for i in range(args.cold):
        with throwaway_project() as project:
            cold.append(deploy(project))
            if i < args.cold - 1:
                continue
            warm = [deploy(project) for _ in range(args.warm)]
            for n in range(args.changed):
                project.set_greeting(f"Hello from change {n + 1}")
                changed.append(deploy(project))
            if NO_PYC in as_is:  # last: from here on the copy has compiled caches
                deploy(project, env=cached)
                warm_cached = [deploy(project, env=cached) for _ in range(args.warm)]
    rows = [summarize("cold (fresh copy)", cold), summarize("unchanged", warm), summarize("one-line change", changed)]
    if warm_cached:
        rows.append(summarize(f"unchanged, {NO_PYC} unset", warm_cached))
    start = emulator_start(3)
    sdk_ms = sdk_import_ms()

    print(f"invoke deploy on the local emulator; seconds; library timings are medians; {NO_PYC}="
          f"{as_is.get(NO_PYC, '(unset)')} in the environment unless said otherwise")
    print(format_table(
        ["scenario", "runs", "action", "wall median", "wall p90", "wall min", *PHASES, "outside"],
        [[r["scenario"], r["runs"], ",".join(r["actions"]), f"{r['wall']['median']:.2f}", f"{r['wall']['p90']:.2f}",
          f"{r['wall']['min']:.2f}", *(f"{r[p]:.3f}" for p in PHASES), f"{r['outside']:.2f}"] for r in rows]))
    print()
    print(f"emulator start (lifecycle.ensure_running, fresh folder, 3 runs): median {start['median']:.2f} s, "
          f"max {start['max']:.2f} s")
    print(f"python -X importtime -c 'import {SDK_MODULE}': {sdk_ms:.0f} ms (median of 3); "
          f"it is paid inside 'submit' by every deploy")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "scenarios": rows, "runs": {"cold": cold, "unchanged": warm, "unchanged_pyc": warm_cached,
                                        "changed": changed},
            "emulator_start_seconds": start, "sdk_import_ms": sdk_ms, NO_PYC: as_is.get(NO_PYC)}, indent=2) + "\n")


if __name__ == "__main__":
    os.chdir(REPO)
    main()
