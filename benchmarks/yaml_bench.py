"""Reading configuration: an env file, an s.yaml import, and how fast hostile YAML is refused.

    python benchmarks/yaml_bench.py [--repeat 50] [--json out.json]

Times (median and max over ``--repeat`` runs, in milliseconds) of ``load_env('local')`` on this
repository, of rendering the s.yaml corpus's every-variable file as ``s preview`` would, and of
refusing a 1 KB alias bomb (nine levels of nine aliases: 9**10 values if expanded) and a
self-referencing anchor with exit 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import smoke

from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.srender import render
from agentrun_tasks.core.yamlfile import load_yaml

REPO = Path(__file__).resolve().parents[1]
VARIABLES = REPO / "tests" / "fixtures" / "syaml" / "corpus" / "variables" / "s.yaml"
BOMB = "\n".join(["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                 + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]) + "\n"


def timed(fn, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(runs), 2), "max_ms": round(max(runs), 2)}


def refused(path: Path) -> None:
    try:
        load_yaml(path, path.name)
    except ConfigError as exc:
        if exc.exit_code != 2:
            raise AssertionError(f"{path.name}: exit code {exc.exit_code}, not 2") from exc
        return
    raise AssertionError(f"{path.name} was accepted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", type=Path)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.repeat = 1
    env = json.loads((VARIABLES.parent / "env.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        bomb, loop = Path(tmp) / "bomb.yaml", Path(tmp) / "loop.yaml"
        bomb.write_text(BOMB)
        loop.write_text("a: &a [1, *a]\n")
        results = {
            "load_env local": timed(lambda: load_env("local", root=REPO, environ={}), args.repeat),
            "render variables s.yaml": timed(lambda: render(load_yaml(VARIABLES, "s.yaml"), path=VARIABLES,
                                                           display="s.yaml", environ=env, access=env.get), args.repeat),
            f"refuse alias bomb ({len(BOMB)} bytes)": timed(lambda: refused(bomb), args.repeat),
            "refuse self-reference": timed(lambda: refused(loop), args.repeat),
        }
    if args.smoke:
        return smoke.passed(", ".join(results))
    width = max(map(len, results))
    print(f"{'what':<{width}}  median ms  max ms")
    for name, figures in results.items():
        print(f"{name:<{width}}  {figures['median_ms']:>9}  {figures['max_ms']:>6}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
