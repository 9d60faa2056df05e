"""Abort benchmark: from SIGINT/SIGTERM during a canary step to 100% stable, and to the exit.

    python benchmarks/abort_bench.py [--repeat 2] [--json FILE]

A throw-away copy of this project (see deploy_bench.py) on the local emulator. Version 1 is
released (first release); then, per repeat and signal, the greeting changes and ``invoke
release`` runs as a real process until its candidate has a share of the endpoint, and gets
the signal. Reported: the seconds until the endpoint routes only the stable version (polled
from the emulator's state file every 10 ms) and until the process exited, with its exit code
(130 for SIGINT, 143 for SIGTERM). A CI cancel usually allows a few seconds between SIGTERM
and SIGKILL (GitHub Actions: 7.5 s after SIGINT, then 2.5 s after SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time

import smoke
from deploy_bench import throwaway_project
from startup_bench import quantiles

from agentrun_tasks.core.report import format_table
from agentrun_tasks.testing.project import Project, clean_environ


def canary_share(project: Project) -> float:
    endpoint = project.endpoint_state() or {}
    routing = endpoint.get("routingConfiguration") or {}
    return sum(w["weight"] for w in routing.get("versionWeights") or []
               if w["version"] != endpoint.get("targetVersion"))


def interrupt_once(project: Project, signum: signal.Signals, label: str) -> dict:
    project.set_greeting(label)
    child = subprocess.Popen([sys.executable, "-m", "invoke", "release"], cwd=project.root, env=clean_environ(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while canary_share(project) <= 0:
        if time.monotonic() > deadline or child.poll() is not None:
            child.kill()
            sys.exit(f"the release of {label} never gave its candidate traffic")
        time.sleep(0.02)
    sent = time.monotonic()
    child.send_signal(signum)
    stable = None
    while child.poll() is None:
        if stable is None and canary_share(project) <= 0:
            stable = time.monotonic() - sent
        time.sleep(0.01)
    exited = time.monotonic() - sent
    if stable is None and canary_share(project) <= 0:
        stable = exited
    return {"signal": signum.name, "exit_code": child.returncode, "stable": stable, "exited": exited}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", help="also write the runs here")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.repeat = 1
    runs = []
    with throwaway_project() as project:
        project.configure_release(interval="5s")
        if project.invoke("release").returncode != 0:
            sys.exit("the first release failed")
        for n in range(args.repeat):
            for signum in (signal.SIGINT, signal.SIGTERM):
                runs.append(interrupt_once(project, signum, f"abort {n} {signum.name}"))
    if args.smoke:
        assert [r["exit_code"] for r in runs] == [130, 143], runs
        assert all(r["stable"] is not None for r in runs), runs
        return smoke.passed("SIGINT and SIGTERM during a canary: back on stable, exit 130 and 143")
    rows = []
    for name in ("SIGINT", "SIGTERM"):
        mine = [r for r in runs if r["signal"] == name]
        stable, exited = quantiles([r["stable"] for r in mine]), quantiles([r["exited"] for r in mine])
        rows.append([name, len(mine), ",".join(sorted({str(r["exit_code"]) for r in mine})),
                     f"{stable['median']:.2f} ({stable['min']:.2f}-{stable['max']:.2f})",
                     f"{exited['median']:.2f} ({exited['min']:.2f}-{exited['max']:.2f})"])
    print(format_table(["signal", "runs", "exit", "to 100% stable s", "to exit s"], rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(runs, fh, indent=2)


if __name__ == "__main__":
    main()
