"""A user's own tasks.py (the README's, kept in examples/composed/) composing only some of the
library's collections under its own names, run with the library installed non-editable."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentrun_tasks.emulator import lifecycle

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "composed"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """agentrun-tasks built as a wheel and installed into a folder of its own (not editable)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--target", str(target), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    return target


@pytest.fixture
def project(tmp_path: Path):
    """The example's tasks.py and invoke.yaml, with this repository's agent under agent/."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("tasks.py", "invoke.yaml"):
        shutil.copy(EXAMPLE / name, root / name)
    (root / "agent" / "envs").mkdir(parents=True)
    shutil.copy(REPO / "envs" / "local.yaml", root / "agent" / "envs" / "local.yaml")
    shutil.copytree(REPO / "code", root / "agent" / "code", ignore=shutil.ignore_patterns("__pycache__"))
    try:
        yield root
    finally:
        lifecycle.stop(root / "agent")


def invoke(project: Path, installed: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "ALIYUN_", "ALIBABA_CLOUD_"))}
    env["PYTHONPATH"] = str(installed)
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


def test_the_readme_shows_exactly_the_example():
    readme = (REPO / "README.md").read_text()
    shown = re.search(r"<!-- examples/composed/tasks.py -->\n```python\n(.*?)```", readme, re.S)
    assert shown is not None, "README.md has no composition example"
    assert shown.group(1) == (EXAMPLE / "tasks.py").read_text()


def test_the_library_comes_from_the_non_editable_install(project, installed):
    env = {**os.environ, "PYTHONPATH": str(installed)}
    where = subprocess.run([sys.executable, "-c", "import agentrun_tasks; print(agentrun_tasks.__file__)"],
                           cwd=project, env=env, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(installed)


def test_only_the_composed_collections_under_their_new_names(project, installed):
    listed = invoke(project, installed, "--list")
    assert listed.returncode == 0, listed.stderr
    # "  ship.deploy (ship)   Build, ..." : a task, and the collection it is the default of
    names = {name for match in re.finditer(r"^  (\S+)(?: \((\S+)\))?", listed.stdout, re.M)
             for name in match.groups() if name}
    assert {"smoke", "ship", "ship.info", "ship.remove", "release", "release.rollback",
            "release.promote", "release.history"} <= names
    assert not names & {"deploy", "rollback", "endpoint.list", "local.up"}


def test_the_own_task_uses_the_url_deploy_returned_and_config_is_honoured(project, installed):
    """invoke.yaml's agentrun.root (agent/) is honoured with only two collections composed."""
    result = invoke(project, installed, "smoke", "--env", "local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"http://127\.0\.0\.1:\d+\S* answered: ", result.stdout)
    assert (project / "agent" / ".agentrun").is_dir()
    assert not (project / ".agentrun").exists()


def test_invoke_env_vars_override_the_library_config_in_a_partial_composition(project, installed):
    """INVOKE_AGENTRUN_ENV only works when a composed collection declared agentrun.env."""
    env_var = {"INVOKE_AGENTRUN_ENV": "nowhere"}
    result = subprocess.run([sys.executable, "-m", "invoke", "ship.info"], cwd=project, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL,
                            env={**os.environ, **env_var, "PYTHONPATH": str(installed)})
    assert result.returncode == 2
    assert "nowhere" in result.stdout + result.stderr


def test_the_built_package_ships_its_types(installed):
    """PEP 561: a user's mypy sees agentrun_tasks' annotations only if py.typed is in the wheel."""
    assert (installed / "agentrun_tasks" / "py.typed").is_file()
