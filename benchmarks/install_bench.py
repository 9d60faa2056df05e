"""A warm CI install beside ``npm install @serverless-devs/s``, interleaved, with spread.

The install step is read from the workflow ``invoke ci.init --platform github`` renders: the
deploy jobs' (``release-prod``: the runtime lock, no test tools), the same as rendered for a project
without a package of its own (no ``-e .``: what ``agentrun-tasks init`` makes) and the test job's
(the test lock). Each is run in a fresh virtual environment (standing in for the runner's Python) from a
copy of this repository, with the uv cache a first, untimed run filled (what setup-uv restores,
keyed on the lock file). The guide's CLI (pinned version) goes into a fresh npm prefix with the
npm cache a first, untimed install filled. The rounds interleave the four, so a busy moment of
this shared machine hits all of them; the ratio is taken per round. Needs the package registries
for the first runs; run it on demand:

    python benchmarks/install_bench.py [--rounds 5]
    python benchmarks/install_bench.py --smoke    # the steps' files exist and uv resolves them
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import smoke
from ruamel.yaml import YAML

from agentrun_tasks.adapters.s_cli import S_VERSION
from agentrun_tasks.core import pipelines
from agentrun_tasks.core.pipelines.model import install_inputs

REPO = Path(__file__).resolve().parents[1]


def install_command(job: str, install_self: bool = True) -> str:
    """The ``install`` step of ``job`` in the generated GitHub workflow; ``install_self=False``
    as ``ci.init`` renders it for a project without a package (``agentrun-tasks init``'s)."""
    options = pipelines.Options(install_self=install_self)
    (workflow,) = pipelines.render("github", options, pipelines.command_line("github", options))
    steps = YAML(typ="safe").load(workflow.text)["jobs"][job]["steps"]
    return next(step["run"] for step in steps if step.get("name") == "install")


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def uv_install(work: Path, cache: Path, command: str) -> float:
    """The install step in a fresh venv (made before the clock starts): ``--system`` then means
    the venv's Python."""
    project = work / "project"
    if not project.exists():
        shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(".git", ".agentrun", "__pycache__", "*.egg-info",
                                                                     ".venv", "node_modules"))
    venv = work / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = {**os.environ, "UV_CACHE_DIR": str(cache), "VIRTUAL_ENV": str(venv),
           "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    return timed(["bash", "-c", command.replace("--system", "--python " + str(venv / "bin" / "python"))], project, env)


def smoke_check(commands: list[str]) -> None:
    """Each step still reads files this repository has, and uv resolves it (``--dry-run``:
    nothing is installed) in a fresh venv."""
    if shutil.which("uv") is None:
        sys.exit("uv is not installed: pip install uv, then run again")
    for command in commands:
        missing = [name for name in install_inputs(command) if not (REPO / name).is_file()]
        assert not missing, f"the install step reads {missing}, which this repository lacks"
        with tempfile.TemporaryDirectory(prefix="install-smoke-") as tmp:
            venv = Path(tmp) / "venv"
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
            dry = command.replace("uv pip install", "uv pip install --dry-run").split(" || ")[-1]
            timed(["bash", "-c", dry.replace("--system", f"--python {venv / 'bin' / 'python'}")], REPO,
                  dict(os.environ))
        smoke.passed(f"{', '.join(install_inputs(command))} present; uv resolves the install step")


def npm_install(work: Path, cache: Path) -> float:
    """``npm install @serverless-devs/s`` into a fresh prefix, with the npm cache ``cache``."""
    prefix = work / "npm-prefix"
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir()
    env = {**os.environ, "npm_config_cache": str(cache)}
    return timed(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                  f"@serverless-devs/s@{S_VERSION}"], work, env)


def spread(values: list[float], unit: str = " s") -> str:
    return f"median {statistics.median(values):.2f}{unit} (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    smoke.add_flag(parser)
    args = parser.parse_args()
    deploy, test = install_command("release-prod"), install_command("test")
    bare = install_command("release-prod", install_self=False)
    if args.smoke:
        return smoke_check([deploy, test, bare])
    print(f"deploy install: {deploy}\ntest install:   {test}\nnpm: npm install @serverless-devs/s@{S_VERSION}")
    have_npm = shutil.which("npm") is not None
    with tempfile.TemporaryDirectory(prefix="install-bench-") as tmp:
        work = Path(tmp)
        uv_cache, npm_cache = work / "uv-cache", work / "npm-cache"
        cold = uv_install(work, uv_cache, test)  # fills the cache with both locks' wheels
        uv_install(work, uv_cache, deploy)
        if have_npm:
            npm_install(work, npm_cache)
        print(f"untimed warm-up: uv cold (test lock) {cold:.1f} s")
        results: dict[str, list[float]] = {"uv warm, runtime lock": [], "uv warm, runtime lock, no package": [],
                                           "uv warm, test lock": [], "npm warm": []}
        for n in range(args.rounds):
            results["uv warm, runtime lock"].append(uv_install(work, uv_cache, deploy))
            results["uv warm, runtime lock, no package"].append(uv_install(work, uv_cache, bare))
            if have_npm:
                results["npm warm"].append(npm_install(work, npm_cache))
            results["uv warm, test lock"].append(uv_install(work, uv_cache, test))
            print(f"round {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in results.items() if v), flush=True)
    for name, values in results.items():
        if values:
            print(f"{name}: {spread(values)}")
    if have_npm:
        for name in ("uv warm, runtime lock", "uv warm, runtime lock, no package"):
            ratios = [u / n for u, n in zip(results[name], results["npm warm"])]
            print(f"{name} / npm, per round: {spread(ratios, unit='x')}")
    else:
        print("npm not found: no comparison")


if __name__ == "__main__":
    main()
