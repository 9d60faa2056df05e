"""Rollback benchmark: from a bad canary step to 100% stable, and the ``invoke rollback`` fast path.

    python benchmarks/rollback_bench.py [--repeat 5] [--rollbacks 5] [--json FILE]

Two throw-away copies of this project (see deploy_bench.py) on the local emulator, driven by
real ``invoke`` processes:

1. Automatic rollback. Version 1 is released healthy (first release). Then the agent gets
   AGENT_FAULT_RATE=0.30 (30% of chat requests answer 500) and ``invoke release --json`` runs
   with steps [5%, 25%, 50%, 100%] and a 30 s interval, so only the early abort of the error
   gates can make it fast. It must exit 4; the library prints "rolled back: version N serves 100%
   (X.Xs after the step began)", measured from the step's endpoint write to the rollback write.
   Each repeat changes the rate slightly (0.31, 0.32, ...) so that a new version is published.
2. Manual rollback. With version 2 at 25% beside version 1 (``invoke endpoint.publish
   --target-version 1 --canary-version 2 --weight 0.25``), ``invoke rollback`` runs while a
   client sends chat requests through the endpoint one after another; reported are the
   command's wall time and the time from its start until the endpoint serves only version 1
   (the ``x-agentrun-version`` header, a request every 10 ms or so; the 50 requests after the
   command ended must all say 1).

Flagger, for comparison, rolls back after ``threshold`` failed checks, one per ``interval``:
with interval 1m and threshold 1, at best 60 s after the bad step began.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from pathlib import Path

import smoke
from deploy_bench import throwaway_project, timed_invoke
from startup_bench import quantiles

from agentrun_tasks.core.report import format_table
from agentrun_tasks.testing.project import Project, chat

FLAGGER_SECONDS = 60.0  # interval 1m x threshold 1
ROLLED_BACK = re.compile(r"rolled back: version (\S+) serves 100% \(([\d.]+)s after the step began\)")
# The step line may go on after the counts (", N of them real traffic" where real traffic is judged).
STEP_FAILED = re.compile(r"step (\d+)%: fail after ([\d.]+)s \((\d+) candidate / (\d+) stable requests[^)]*\)")
PAUSE_S = 0.01
AFTER_ROLLBACK = 50  # requests that must all reach version 1 once `invoke rollback` has returned


def invoke_ok(project: Project, *args: str) -> dict:
    _, proc = timed_invoke(project, *args, "--json")
    if proc.returncode != 0:
        sys.exit(f"invoke {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    return json.loads(proc.stdout)


def bad_canary(project: Project, rate: float) -> dict:
    """Publish a version with ``rate`` faults and release it; what the library reports of its rollback."""
    text = project.root.joinpath("envs", "local.yaml").read_text()
    project.root.joinpath("envs", "local.yaml").write_text(
        re.sub(r'AGENT_FAULT_RATE: "[\d.]+"', f'AGENT_FAULT_RATE: "{rate:.2f}"', text))
    wall, proc = timed_invoke(project, "release", "--json")
    if proc.returncode == 2 and "--force" in proc.stderr:  # this version already failed a release
        wall, proc = timed_invoke(project, "release", "--json", "--force")
    output = proc.stdout + proc.stderr
    rolled, failed = ROLLED_BACK.search(output), STEP_FAILED.search(output)
    if proc.returncode != 4 or not rolled or not failed:
        sys.exit(f"expected exit 4 and a rollback, got {proc.returncode}:\n{output}")
    endpoint = project.endpoint_state()
    weights = (endpoint.get("routingConfiguration") or {}).get("versionWeights") or []
    return {"fault_rate": rate, "release_wall": wall, "to_version": rolled[1], "rollback_seconds": float(rolled[2]),
            "failed_at": int(failed[1]) / 100, "step_seconds": float(failed[2]),
            "candidate_requests": int(failed[3]), "stable_requests": int(failed[4]),
            "endpoint_after": {"target": endpoint["targetVersion"], "canaries": len(weights)}}


class VersionPoller(threading.Thread):
    """Sends a chat request every ``PAUSE_S`` or so; records (sent at, serving version).

    The pause bounds the resolution of the switch time; without it the client would take a CPU
    from the ``invoke rollback`` it measures (this machine has two).
    """

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.samples, self.halt = url, [], threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            sent = time.perf_counter()
            _, headers, _ = chat(self.url)
            self.samples.append((sent, headers["x-agentrun-version"]))
            time.sleep(PAUSE_S)

    def wait_for(self, count: int, timeout: float = 120.0) -> None:
        """Until ``count`` samples; exits if the poller died (a failed request) or the time is up."""
        deadline = time.monotonic() + timeout
        while len(self.samples) < count:
            if not self.is_alive():
                sys.exit(f"the version poller stopped after {len(self.samples)} requests (see its traceback above)")
            if time.monotonic() > deadline:
                sys.exit(f"the version poller made {len(self.samples)} of {count} requests in {timeout:.0f}s")
            time.sleep(0.01)


def manual_rollback(project: Project) -> dict:
    """Split 75/25, then time ``invoke rollback`` and the moment version 2 stops serving."""
    endpoint = invoke_ok(project, "endpoint.publish", "--target-version", "1", "--canary-version", "2",
                         "--weight", "0.25")
    poller = VersionPoller(endpoint["url"])
    poller.start()
    poller.wait_for(40)
    started = time.perf_counter()
    wall, proc = timed_invoke(project, "rollback", "--json")
    ended = len(poller.samples)
    poller.wait_for(ended + AFTER_ROLLBACK)
    poller.halt.set()
    poller.join()
    if proc.returncode != 0:
        sys.exit(f"invoke rollback exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    samples = poller.samples
    before = [v for t, v in samples if t < started]
    last_v2 = max((i for i, (_, v) in enumerate(samples) if v != "1"), default=None)
    if last_v2 is None or "2" not in before:
        sys.exit("version 2 never served during the 25% split: the split did not take effect")
    v1_only_from = samples[last_v2 + 1][0] - started if last_v2 + 1 < len(samples) else float("nan")
    return {"wall": wall, "v1_only_after": v1_only_from, "share_v2_before": before.count("2") / len(before),
            "requests": len(samples), "v2_after_command": sum(v != "1" for _, v in samples[ended:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="bad canaries released and rolled back")
    parser.add_argument("--rollbacks", type=int, default=5, help="manual rollbacks of a 25%% split")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.repeat = args.rollbacks = 1

    with throwaway_project() as project:
        project.configure_release(steps="[0.05, 0.25, 0.5, 1.0]", interval="30s")
        first = invoke_ok(project, "release")
        assert first["result"] == "first-release", first
        project.configure_release(agent_env={"AGENT_FAULT_RATE": "0.30"})
        canaries = [bad_canary(project, 0.30 + i / 100) for i in range(args.repeat)]

    with throwaway_project() as project:
        project.configure_release(interval="2s")
        invoke_ok(project, "release")
        project.set_greeting("Hello from version 2")
        invoke_ok(project, "deploy")
        assert invoke_ok(project, "version.publish")["version"] == "2"
        manual = [manual_rollback(project) for _ in range(args.rollbacks)]

    if args.smoke:  # bad_canary and manual_rollback exit unless each rollback happened
        return smoke.passed("a bad canary rolled back (exit 4), a 25% split rolled back by hand")
    rollback = quantiles([c["rollback_seconds"] for c in canaries])
    rows = [["bad canary: step start -> 100% stable (library)", len(canaries), rollback],
            ["bad canary: whole `invoke release` (build, publish, step)", len(canaries),
             quantiles([c["release_wall"] for c in canaries])],
            ["`invoke rollback`: wall", len(manual), quantiles([m["wall"] for m in manual])],
            ["`invoke rollback`: start -> only version 1 served", len(manual),
             quantiles([m["v1_only_after"] for m in manual])]]
    print("seconds; steps [5%, 25%, 50%, 100%], interval 30s; AGENT_FAULT_RATE 0.30 + 0.01 per repeat")
    print(format_table(["measure", "runs", "median", "p90", "min", "max"],
                       [[name, n, *(f"{q[k]:.2f}" for k in ("median", "p90", "min", "max"))] for name, n, q in rows]))
    print()
    print(format_table(["fault rate", "failed at", "step s", "rollback s", "candidate / stable requests", "after"],
                       [[f"{c['fault_rate']:.2f}", f"{c['failed_at']:.0%}", f"{c['step_seconds']:.1f}",
                         f"{c['rollback_seconds']:.1f}", f"{c['candidate_requests']} / {c['stable_requests']}",
                         f"target {c['endpoint_after']['target']}, {c['endpoint_after']['canaries']} canaries"]
                        for c in canaries]))
    print()
    shares = ", ".join(f"{m['share_v2_before']:.0%}" for m in manual)
    print(f"version 2 share during the 25% split: {shares}; "
          f"responses from version 2 after `invoke rollback` returned: {sum(m['v2_after_command'] for m in manual)}")
    print(f"Flagger (interval 1m x threshold 1): {FLAGGER_SECONDS:.0f} s; this library's median: "
          f"{rollback['median']:.1f} s ({FLAGGER_SECONDS / rollback['median']:.0f}x faster)")
    if args.json:
        Path(args.json).write_text(json.dumps({"canaries": canaries, "manual_rollbacks": manual,
                                               "flagger_seconds": FLAGGER_SECONDS}, indent=2) + "\n")


if __name__ == "__main__":
    main()
