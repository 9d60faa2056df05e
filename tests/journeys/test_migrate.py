"""Migrate: a team's guide-style s.yaml in an empty git repository; `agentrun-tasks init --from`,
`invoke ci.init` for GitHub and GitLab, then every `run:`/`script:` line of the generated test and
deploy jobs, in order, in a fresh virtualenv that has only what those lines install (this
checkout as a wheel, served from a local folder as an index would serve it); then the agent
answers at the URL the deploy job printed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from ruamel.yaml import YAML

from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.testing.project import clean_environ

REPO = Path(__file__).resolve().parents[2]
S_YAML = """\
edition: 3.0.0
name: support-bot
access: default
vars:
  region: cn-hangzhou
resources:
  support-bot:
    component: agentrun
    props:
      region: ${vars.region}
      agent:
        name: support-bot
        code:
          src: ./code
          language: python3.12
          command: [python3, app.py]
        port: 9000
        cpu: 0.5
        memory: 1024
"""
JOBS = {"github": ("test", "deploy-dev"), "gitlab": ("test", "deploy-dev")}


def run(argv, cwd: Path, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}\n{proc.stderr}{proc.stdout}"
    return proc


def job_lines(app: Path) -> list[str]:
    """The shell lines of the test and deploy jobs, per platform, in order."""
    yaml = YAML(typ="safe")
    github = yaml.load((app / ".github" / "workflows" / "agentrun.yml").read_text())
    gitlab = yaml.load((app / ".gitlab-ci.yml").read_text())
    lines = [step["run"] for job in JOBS["github"] for step in github["jobs"][job]["steps"] if "run" in step]
    before = (gitlab.get("default") or {}).get("before_script", [])
    for job in JOBS["gitlab"]:
        lines += [*gitlab[job].get("before_script", before), *gitlab[job]["script"]]
    return lines


def test_migrate(tmp_path):
    venv, wheels, app = tmp_path / "venv", tmp_path / "wheels", tmp_path / "support-bot"
    # The runner's Python: a fresh venv, with uv (what setup-uv gives a GitHub job).
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, os.environ)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "uv>=0.9,<1"], tmp_path, os.environ)
    # This checkout as the package index would serve it: a wheel in a folder uv searches.
    source = tmp_path / "src"
    shutil.copytree(REPO / "agentrun_tasks", source / "agentrun_tasks", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    run([str(venv / "bin" / "uv"), "build", "--wheel", "--out-dir", str(wheels), str(source)], tmp_path, os.environ)
    index = {"UV_FIND_LINKS": str(wheels), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    app.mkdir()
    run(["git", "init", "-q", "-b", "main"], app, os.environ)
    (app / "s.yaml").write_text(S_YAML)
    tool = clean_environ(**index)  # this checkout's agentrun-tasks, as the user's tool
    run([sys.executable, "-m", "agentrun_tasks", "init", "--from", "s.yaml"], app, tool)
    for platform in ("github", "gitlab"):
        run([sys.executable, "-m", "invoke", "ci.init", "--platform", platform], app, tool)
        run([sys.executable, "-m", "invoke", "ci.init", "--platform", platform, "--check"], app, tool)
    lock = (app / "requirements.lock").read_text()
    assert re.search(r"^agentrun-tasks==\d", lock, re.M)
    assert "pytest" not in lock
    assert re.search(r"^pytest==", (app / "requirements-test.lock").read_text(), re.M)
    # init's pyproject.toml declares no package, so no job builds the project: only the locks.
    assert not [line for line in job_lines(app) if " -e ." in line]
    # The dev environment, rehearsed on the embedded AgentRun (the test has no cloud account).
    dev = app / "envs" / "dev.yaml"
    dev.write_text(dev.read_text().replace("driver: openapi\n", "emulator: true\n").replace("profile: dev", "profile: local"))

    # The jobs' lines in a CI-like environment: the venv first on PATH, nothing from this checkout.
    ci = {k: v for k, v in clean_environ(**index, CI="true").items() if k != "PYTHONPATH"}
    python = str(venv / "bin" / "python")
    outputs = []
    try:
        for line in dict.fromkeys(job_lines(app)):  # a line both platforms run is run once
            # --system installs into the runner's Python; here that is the venv.
            outputs.append(run(["bash", "-ec", line.replace("--system", f"--python {python}")], app, ci).stdout)
        installed = run([python, "-c", "import agentrun_tasks, sys; print(agentrun_tasks.__file__)"], app, ci).stdout
        assert installed.startswith(str(venv)), installed  # the wheel, not this checkout
        chat_url = re.search(r"^chat +(\S+) ", "".join(outputs), re.M)[1]
        body = json.dumps({"model": "agent", "messages": [{"role": "user", "content": "hello"}]}).encode()
        request = urllib.request.Request(chat_url, data=body, method="POST", headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert "hello" in json.loads(response.read())["choices"][0]["message"]["content"]
    finally:
        lifecycle.stop(app)
