"""``invoke ci.init`` in a project that lacks what its install step reads: a warning when it
writes, exit 2 from --check naming each missing file (it used to say "up to date")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentrun_tasks.core.pipelines.model import install_inputs
from agentrun_tasks.testing.project import clean_environ


def invoke(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd, env=clean_environ(),
                          capture_output=True, text=True, timeout=60)


def test_check_reports_the_install_inputs_a_project_lacks(tmp_path):
    (tmp_path / "tasks.py").write_text("from agentrun_tasks.tasks import ns  # noqa: F401\n")
    wrote = invoke("ci.init", "--platform", "gitlab", cwd=tmp_path)
    assert wrote.returncode == 0, wrote.stderr
    assert "warning: the install step reads requirements.lock, pyproject.toml, requirements-test.lock, which the project lacks" in wrote.stderr

    check = invoke("ci.init", "--platform", "gitlab", "--check", cwd=tmp_path)
    assert check.returncode == 2
    assert "Traceback" not in check.stderr
    assert "its install step reads requirements.lock, pyproject.toml, requirements-test.lock, which the project lacks" in check.stderr
    assert "uv pip compile pyproject.toml --universal -o requirements.lock" in check.stderr
    assert "--force" not in check.stderr  # the pipeline file itself is up to date

    (tmp_path / "pyproject.toml").write_text("[build-system]\nrequires = ['setuptools']\n"
                                             "[project]\nname = 'x'\nversion = '0'\n")  # a package: -e . stays
    (tmp_path / "requirements.lock").write_text("")
    (tmp_path / "requirements-test.lock").write_text("")
    check = invoke("ci.init", "--platform", "gitlab", "--check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr


def test_install_inputs_reads_requirement_and_editable_arguments():
    text = ('run: uv pip install --system --offline -r requirements.lock -e . || uv pip install --system '
            '-r requirements.lock -e .\n  - pip install --requirement=requirements-test.lock --no-deps -e .\n'
            '# made with `uv pip compile pyproject.toml -o requirements.lock`\n')
    assert install_inputs(text) == ["requirements.lock", "pyproject.toml", "requirements-test.lock"]
