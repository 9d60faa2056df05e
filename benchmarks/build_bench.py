"""Build benchmark: a generated agent of 2,000 files, built cold, checked unchanged, rebuilt.

    python benchmarks/build_bench.py [--files 2000] [--repeat 7]

The tree mixes small and large Python modules, JSON and text data and a few binary blobs (sizes
drawn from a fixed seed, about 15 MB in all); requirements.txt is empty so that only our own work
is timed, not pip or the network. Prints one table; times are wall seconds. The library calls
run in this process; one row times the whole ``invoke build`` command for comparison.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import smoke

from agentrun_tasks.core import build as core
from agentrun_tasks.core import package_files
from agentrun_tasks.core.model import EnvConfig
from agentrun_tasks.core.report import format_table
from agentrun_tasks.flows.build import build_artifact

# (share of files, extension, median size in bytes): a typical service with vendored helpers.
KINDS = [(0.70, ".py", 3_000), (0.15, ".json", 1_500), (0.10, ".txt", 6_000), (0.05, ".bin", 40_000)]


def generate(root: Path, count: int, seed: int = 4) -> int:
    """Write ``count`` files under ``root/code``; return their total size."""
    rng = random.Random(seed)
    code = root / "code"
    total = 0
    for i in range(count):
        _share, ext, median = rng.choices(KINDS, weights=[k[0] for k in KINDS])[0]
        size = min(int(rng.lognormvariate(0, 0.8) * median), 50 * median)
        folder = code / f"pkg{i % 40:02d}" / f"sub{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if ext == ".bin":
            data = rng.randbytes(size)
        else:
            line = f"value_{i} = {rng.random()!r}  # generated line of a realistic module\n".encode()
            data = (line * (size // len(line) + 1))[:size]
        (folder / f"file{i:04d}{ext}").write_bytes(data)
        total += size
    (code / "app.py").write_text("GREETING = 'hello'\n")
    (code / "requirements.txt").write_text("# no dependencies: time our own work only\n")
    (root / "envs").mkdir()
    (root / "envs" / "bench.yaml").write_text(
        "region: cn-hangzhou\nagent:\n  name: bench\n  code: {src: code, language: python3.12}\n")
    (root / "tasks.py").write_text("from agentrun_tasks.tasks.build import ns  # noqa: F401\n")
    return total


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.files, args.repeat = 50, 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        total = generate(root, args.files)
        env = EnvConfig(name="bench", path=root / "envs" / "bench.yaml", region="cn-hangzhou", driver="openapi",
                        agent={"name": "bench", "code": {"src": "code", "language": "python3.12"}})
        build = lambda **kw: build_artifact(env, root=root, **kw)  # noqa: E731

        cold, first = timed(build)
        assert not first.reused
        skips = []
        for _ in range(args.repeat):
            seconds, again = timed(build)
            assert again.reused
            skips.append(seconds)
        files = package_files.select_files(env.code_dir, package_files.IgnoreRules.for_dir(env.code_dir))
        hash_only = statistics.median(
            timed(lambda: core.inputs_hash(files, "", core.target_for("python3.12")))[0] for _ in range(args.repeat))
        cli = statistics.median(
            timed(lambda: subprocess.run([sys.executable, "-m", "invoke", "build", "--env", "bench", "--json"],
                                         cwd=root, check=True, capture_output=True))[0] for _ in range(3))
        with open(env.code_dir / "app.py", "a") as fh:
            fh.write("GREETING = 'hello again'\n")
        rebuild, changed = timed(build)
        assert not changed.reused
        forced, _ = timed(lambda: build(force=True))

    if args.smoke:
        return smoke.passed(f"{args.files} files built, reused, rebuilt after a change")
    rows = [
        ["cold build", f"{cold:.3f}", "select + hash + zip + SHA-256/CRC-64"],
        [f"unchanged skip (median of {args.repeat})", f"{statistics.median(skips):.3f}",
         f"min {min(skips):.3f}, max {max(skips):.3f}"],
        ["  of which content hash", f"{hash_only:.3f}", "median, files already listed"],
        ["`invoke build`, unchanged (median of 3)", f"{cli:.3f}", "whole CLI process, interpreter start included"],
        ["rebuild after one-line change", f"{rebuild:.3f}", ""],
        ["forced rebuild, same inputs", f"{forced:.3f}", ""],
    ]
    print(f"{args.files} files, {total / 1e6:.1f} MB of source -> zip of {first.size / 1e6:.1f} MB")
    print(format_table(["step", "seconds", "note"], rows))


if __name__ == "__main__":
    main()
