"""How long an AccessKey rotation takes, and where the time goes, on the embedded emulator with
every sink type served locally (GitHub, GitLab, Jenkins, Bitbucket, CircleCI, Yunxiao, KMS, the
.env file and a keyring): 13 sinks, so a run is about 25 HTTP calls to platforms and 20 to RAM/STS.

    python benchmarks/rotate_bench.py [--runs 5] [--json out.json]

Each run is a whole rotation (delete the previous old key, create, verify, write and read back
13 sinks, deactivate), in-process, through the same flow ``invoke rotate-keys`` runs. It prints
the seconds per run and per step kind (median over the runs). Stops the emulator it starts.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import keyring
import keyring.core
import smoke

from agentrun_tasks.adapters.file_store import FileStateStore
from agentrun_tasks.adapters.keyring_store import KeyStore
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.flows.rotation import rotate
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.keyring import MemoryKeyring
from agentrun_tasks.testing.rotation import SinkPlatforms, local_rotation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    per_step: dict[str, list[float]] = defaultdict(list)
    totals: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, running_emulator(Path(tmp)) as emu, \
            SinkPlatforms(emu.root, keyring_entry=lambda: KeyStore(backend).get("local")).serving() as platforms:
        store = FileStateStore(emu.root / ".agentrun" / "state")
        for _ in range(args.runs):
            marks: list[tuple[str, float]] = []

            def fault(kind: str, when: str, marks=marks) -> None:  # the flow's hook, used as a clock
                marks.append((f"{kind} {when}", time.perf_counter()))

            run = local_rotation(emu.root, emu.endpoint, platforms, store,
                                 Reporter(out=io.StringIO(), err=io.StringIO(), interactive=False), fault=fault)
            started = time.perf_counter()
            outcome = rotate(run)
            totals.append(time.perf_counter() - started)
            assert outcome.result == "rotated", outcome
            spent: dict[str, float] = defaultdict(float)  # seconds per step kind in this run
            for (what, at), (after, end) in itertools.pairwise(marks):
                if what.endswith("before") and after == what.replace("before", "after"):
                    spent[what.split()[0]] += end - at
            for kind, seconds in spent.items():
                per_step[kind].append(seconds)
    if args.smoke:
        return smoke.passed(f"a rotation with {len(run.sinks)} sinks")
    figures = {"runs": args.runs, "sinks": len(run.sinks), "seconds_per_rotation": statistics.median(totals),
               "seconds_per_step": {k: round(statistics.median(v), 4) for k, v in per_step.items()}}
    print(f"{args.runs} rotations with {figures['sinks']} sinks: median {figures['seconds_per_rotation']:.2f} s "
          f"(min {min(totals):.2f}, max {max(totals):.2f})")
    for kind, seconds in figures["seconds_per_step"].items():
        print(f"  {kind:<10} {seconds * 1000:8.1f} ms per run")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
