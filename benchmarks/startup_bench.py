"""Startup benchmark: wall time and peak memory of ``invoke --list`` against bare ``invoke --version``.

    python benchmarks/startup_bench.py [--runs 15] [--json FILE]

Each command runs ``--runs`` times as a real process (the console script beside this
interpreter, not a pyenv shim) in a fresh copy of the repository's ``tasks.py`` and
``agentrun_tasks/`` without ``__pycache__``, so the state of the caches is known; wall time is
measured around the process and peak RSS comes from ``wait4`` for that one child.
``invoke --version`` is the baseline: the interpreter plus invoke alone, so ``--list`` minus
``--version`` is what this library adds.

Both are measured twice: with the environment as it is and, if it sets
PYTHONDONTWRITEBYTECODE (this build machine does: no .pyc cache, so every import compiles
from source), again with that variable removed from the child after one warm-up run that
writes the caches (into the copy; the checkout is not touched). Last, ``python -X importtime``
lists the imports of ``agentrun_tasks.tasks`` that take 5 ms or more (cumulative, caches warm).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import smoke

from agentrun_tasks.core.report import format_table

REPO = Path(__file__).resolve().parents[1]
INVOKE = Path(sys.executable).with_name("invoke")
NO_PYC = "PYTHONDONTWRITEBYTECODE"


def run_timed(argv: list[str], cwd: Path, env: dict, timeout: float = 300) -> tuple[float, int, str, str, int]:
    """Run ``argv`` to completion: (wall seconds, peak RSS in KiB, stdout, stderr, exit code).

    ``os.wait4`` gives the rusage of this one child (and the descendants it waited for), unlike
    ``RUSAGE_CHILDREN``, whose ``ru_maxrss`` is the maximum over every child ever reaped.
    """
    # Output goes to files, not pipes: communicate() would reap the child before wait4 could.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True)
        deadline = started + timeout
        while (reaped := os.wait4(proc.pid, os.WNOHANG))[0] == 0:
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise subprocess.TimeoutExpired(argv, timeout)
            time.sleep(0.002)
        seconds = time.perf_counter() - started
        _, status, usage = reaped
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return seconds, usage.ru_maxrss, stdout, stderr, proc.returncode


def quantiles(values: list[float]) -> dict:
    """Median, p90 (nearest rank), min and max."""
    ordered = sorted(values)
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return {"median": statistics.median(ordered), "p90": p90, "min": ordered[0], "max": ordered[-1]}


def checkout_copy(dest: Path) -> Path:
    """``tasks.py`` and the package without compiled caches; invoke puts this folder first on sys.path."""
    shutil.copytree(REPO / "agentrun_tasks", dest / "agentrun_tasks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "tasks.py", dest / "tasks.py")
    return dest


def measure(argv: list[str], cwd: Path, env: dict, runs: int) -> dict:
    times, peaks = [], []
    for _ in range(runs):
        seconds, peak_kib, _out, err, code = run_timed(argv, cwd, env)
        if code != 0:
            sys.exit(f"{' '.join(argv)} exited {code}: {err.strip()}")
        times.append(seconds)
        peaks.append(peak_kib / 1024)
    return {"seconds": quantiles(times), "peak_mib": quantiles(peaks)}


def import_times(cwd: Path, env: dict, threshold_ms: float = 5.0) -> tuple[float, float, list[dict]]:
    """(ms of ``import agentrun_tasks.tasks``, ms of interpreter start-up imports (``site``), the
    imports under the former taking ``threshold_ms`` or more cumulative, slowest first)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import agentrun_tasks.tasks"], cwd=cwd,
                          env=env, capture_output=True, text=True, check=True)
    totals, pending, ours = {}, [], []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        row = {"module": name.rstrip(), "self_ms": int(self_us) / 1000, "cumulative_ms": int(cumulative_us) / 1000}
        pending.append(row)
        # Lines come children first; an unindented line closes the tree above it (e.g. `site`,
        # imported by the interpreter before our statement runs, with .pth files' imports).
        if not name.startswith("  "):
            totals[name.strip()] = row["cumulative_ms"]
            if name.strip() == "agentrun_tasks.tasks":
                ours = pending
            pending = []
    slow = sorted((r for r in ours if r["cumulative_ms"] >= threshold_ms), key=lambda r: -r["cumulative_ms"])
    return totals.get("agentrun_tasks.tasks", 0.0), totals.get("site", 0.0), slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if not INVOKE.exists():
        sys.exit(f"no invoke console script beside {sys.executable}")

    as_is = dict(os.environ)
    modes = [("as-is" + (f" ({NO_PYC}={as_is[NO_PYC]})" if NO_PYC in as_is else ""), as_is)]
    if NO_PYC in as_is:  # measured second: its warm-up writes the caches the first mode must not see
        modes.append((f"{NO_PYC} unset, .pyc warm", {k: v for k, v in as_is.items() if k != NO_PYC}))
    commands = {"invoke --version": [str(INVOKE), "--version"], "invoke --list": [str(INVOKE), "--list"]}

    results, imports = [], {}
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        copy = checkout_copy(Path(tmp))
        if args.smoke:  # measure() exits unless each command succeeds
            for argv in commands.values():
                measure(argv, copy, as_is, 1)
            assert import_times(copy, as_is)[0] > 0
            return smoke.passed(", ".join(commands) + ", import times")
        for mode, env in modes:
            for label, argv in commands.items():
                measure(argv, copy, env, 1)  # warm-up: page cache, and the .pyc files where they may be written
                results.append({"mode": mode, "command": label, **measure(argv, copy, env, args.runs)})
            imports[mode] = import_times(copy, env)

    print(f"{args.runs} runs each, after one warm-up, in a copy of {REPO / 'tasks.py'} and the package; {INVOKE}")
    print(format_table(
        ["mode", "command", "median s", "p90 s", "min s", "peak MiB median", "peak MiB max"],
        [[r["mode"], r["command"], f"{r['seconds']['median']:.3f}", f"{r['seconds']['p90']:.3f}",
          f"{r['seconds']['min']:.3f}", f"{r['peak_mib']['median']:.1f}", f"{r['peak_mib']['max']:.1f}"]
         for r in results]))
    print()
    for mode, _env in modes:
        base, lst = (next(r for r in results if r["mode"] == mode and r["command"] == c) for c in commands)
        print(f"library overhead ({mode}): +{lst['seconds']['median'] - base['seconds']['median']:.3f} s median, "
              f"+{lst['peak_mib']['median'] - base['peak_mib']['median']:.1f} MiB peak")
    print()
    for mode, (total_ms, site_ms, _rows) in imports.items():
        print(f"python -X importtime -c 'import agentrun_tasks.tasks', {mode}: {total_ms:.1f} ms "
              f"(and {site_ms:.1f} ms of interpreter start-up imports, `site`, in every Python process)")
    print(format_table(["imported by agentrun_tasks.tasks (indent = nesting), .pyc warm", "self ms", "cumulative ms"],
                       [[r["module"], f"{r['self_ms']:.1f}", f"{r['cumulative_ms']:.1f}"]
                        for r in imports[modes[-1][0]][2]]))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "runs": args.runs, "invoke": str(INVOKE), "results": results,
            "importtime": {mode: {"total_ms": total, "site_ms": site, "over_5ms": rows}
                           for mode, (total, site, rows) in imports.items()}},
            indent=2) + "\n")


if __name__ == "__main__":
    main()
