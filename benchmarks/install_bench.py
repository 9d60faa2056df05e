"""Install time of the generated GitHub job's install step, beside the usual guide's
``npm install -g @serverless-devs/s``.

The step's command is read from the workflow ``invoke ci.init --platform github`` renders, and
run in a fresh virtual environment (standing in for the runner's Python) from a copy of this
repository: once with an empty uv cache (cold: every wheel downloaded and unpacked), then again
with the cache that run left (warm: what setup-uv restores, keyed on requirements.lock). The
guide's CLI goes into a temporary npm prefix with an empty npm cache. Needs the package
registries; run it on demand:

    python benchmarks/install_bench.py [--runs 2]
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

from agentrun_tasks.core import pipelines
from agentrun_tasks.core.pipelines.model import install_inputs

REPO = Path(__file__).resolve().parents[1]


def install_command() -> str:
    options = pipelines.Options()
    (workflow,) = pipelines.render("github", options, pipelines.command_line("github", options))
    steps = YAML(typ="safe").load(workflow.text)["jobs"]["test"]["steps"]
    return next(step["run"] for step in steps if step.get("name") == "install")


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def uv_install(work: Path, cache: Path, command: str) -> float:
    """The install step in a fresh venv: `--system` then means the venv's Python, first on PATH."""
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(".git", ".agentrun", "__pycache__", "*.egg-info"))
    venv = work / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = {**os.environ, "UV_CACHE_DIR": str(cache), "VIRTUAL_ENV": str(venv),
           "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    return timed(["bash", "-c", command.replace("--system", "--python " + str(venv / "bin" / "python"))], project, env)


def smoke_check(command: str) -> None:
    """The step still reads files this repository has, and uv resolves it (``--dry-run``: nothing
    is installed) in a fresh venv."""
    missing = [name for name in install_inputs(command) if not (REPO / name).is_file()]
    assert not missing, f"the install step reads {missing}, which this repository lacks"
    if shutil.which("uv") is None:
        sys.exit("uv is not installed: pip install uv, then run again")
    with tempfile.TemporaryDirectory(prefix="install-smoke-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        dry = command.replace("uv pip install", "uv pip install --dry-run").split(" || ")[-1]
        python = str(venv / "bin" / "python")
        timed(["bash", "-c", dry.replace("--system", f"--python {python}")], REPO, dict(os.environ))
    smoke.passed(f"{', '.join(install_inputs(command))} present; uv resolves the install step")


def npm_install(work: Path) -> float:
    prefix, cache = work / "npm-prefix", work / "npm-cache"
    for path in (prefix, cache):
        shutil.rmtree(path, ignore_errors=True)
    env = {**os.environ, "npm_config_cache": str(cache)}
    return timed(["npm", "install", "-g", "--prefix", str(prefix), "--no-audit", "--no-fund",
                  "@serverless-devs/s"], work, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    smoke.add_flag(parser)
    args = parser.parse_args()
    command = install_command()
    if args.smoke:
        return smoke_check(command)
    print(f"install step: {command}")
    cold, warm, npm = [], [], []
    with tempfile.TemporaryDirectory(prefix="install-bench-") as tmp:
        work = Path(tmp)
        for run in range(args.runs):
            cache = work / f"uv-cache-{run}"
            cold.append(uv_install(work, cache, command))
            warm.append(uv_install(work, cache, command))
            if shutil.which("npm"):
                npm.append(npm_install(work))
            print(f"run {run + 1}: uv cold {cold[-1]:.1f} s, uv warm {warm[-1]:.1f} s"
                  + (f", npm -g @serverless-devs/s {npm[-1]:.1f} s" if npm else ""), flush=True)
    print(f"median of {args.runs}: uv cold {statistics.median(cold):.1f} s, uv warm {statistics.median(warm):.1f} s"
          + (f", npm install -g @serverless-devs/s {statistics.median(npm):.1f} s" if npm else " (npm not found)"))


if __name__ == "__main__":
    main()
