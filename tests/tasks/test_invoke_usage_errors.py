"""Plain ``invoke`` (``inv``, ``python -m invoke``) under the contract: the shipped ``tasks.py``
files end with ``exit_2_on_usage_errors()``, so a command line invoke's parser refuses exits 2
in the one paragraph ``agentrun-tasks`` prints, and every line it accepts runs as it did without
that call. Each case is a real process, run against the file as shipped and against the same
file without the call; the processes run in parallel, once per module."""

from __future__ import annotations

import importlib.metadata
import json
import os
import runpy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CALL = "exit_2_on_usage_errors()"
SOURCES = {"root": REPO / "tasks.py", "composed": REPO / "examples" / "composed" / "tasks.py",
           "undashed": REPO / "tasks.py"}  # undashed: invoke.yaml says tasks.auto_dash_names: false


def console_script(name: str) -> str:
    """Where pip put invoke's ``name`` script for this interpreter (beside it, /usr/local/bin on
    Debian, a base interpreter's bin for a venv that borrows its packages): from invoke's RECORD."""
    dist = importlib.metadata.distribution("invoke")
    found = [f for f in dist.files or () if f.name == name and f.parent.name in ("bin", "Scripts")]
    assert found, f"invoke's {name} script is not in its RECORD"
    return str(Path(str(dist.locate_file(found[0]))).resolve())


ENTRIES = {"invoke": [console_script("invoke")], "inv": [console_script("inv")], "-m": [sys.executable, "-m", "invoke"]}


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    usage_error: bool = False  # invoke's parser refuses it
    project: str = "root"
    entry: str = "-m"  # how invoke is started: ENTRIES

    @property
    def id(self) -> str:
        return f"{self.project}:{self.entry}:{' '.join(self.argv) or '(none)'}"


VALID = [
    Case(("--list",)), Case(("-l", "ci"), entry="inv"), Case(("--print-completion-script", "bash"), entry="invoke"),
    Case(("--help", "deploy")), Case(("-h", "deploy"), entry="inv"), Case(("release", "--help")),
    Case(("--complete", "--", "invoke", "dep")), Case(("-r", "{project}", "--list")),  # from another folder
    # Values are the tasks' to judge: these parse, and the task refuses them (exit 2) or fails fast.
    Case(("deploy", "--env", "local", "--json"), entry="invoke"), Case(("-e", "deploy", "--env", "x")),
    Case(("local.up", "--port", "70000")), Case(("history", "--limit", "5"), entry="inv"),
    Case(("ci.env", "--", "a", "remainder")),
    Case(("ship", "--env", "x"), project="composed"),  # the default task of a collection
    Case(("release.history", "--limit", "5"), project="composed", entry="inv"),
    Case(("rotate_keys", "--help"), project="undashed"),
]
INVALID = [
    Case(("deploy", "--foo"), True, entry="invoke"), Case(("nosuch-task",), True, entry="inv"),
    Case(("history", "--limit"), True), Case(("history", "--limit", "--json"), True, entry="invoke"),
    Case(("--lsit",), True, entry="inv"), Case(("--help", "nosuch"), True), Case(("ci.env", "nosuch"), True),
    Case(("deploy",), True, project="composed"), Case(("ship", "--foo", "--json"), True, project="composed"),
    Case(("rotate-keys", "--help"), True, project="undashed"),
]
CASES = VALID + INVALID


def environ(home: Path) -> dict:
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def scratch_project(root: Path, name: str, guarded: bool) -> Path:
    """The shipped tasks.py (or it without the call) and an empty envs/: tasks fail fast."""
    text = SOURCES[name].read_text()
    assert CALL in text, f"{SOURCES[name]} no longer calls {CALL}"
    (root / "envs").mkdir(parents=True)
    (root / "tasks.py").write_text(text if guarded else text.replace(CALL, "pass"))
    if name == "undashed":
        (root / "invoke.yaml").write_text("tasks:\n  auto_dash_names: false\n")
    return root


def run(argv: list[str], cwd: Path, project: Path) -> subprocess.CompletedProcess:
    argv = [arg.replace("{project}", str(project)) for arg in argv]
    proc = subprocess.run(argv, cwd=cwd, env=environ(cwd), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    proc.stdout, proc.stderr = (text.replace(str(project), "{project}") for text in (proc.stdout, proc.stderr))
    return proc


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """(case id, "guarded" | "plain" | "agentrun-tasks") -> the finished process."""
    base = tmp_path_factory.mktemp("usage")
    projects = {(name, guarded): scratch_project(base / f"{name}-{guarded}", name, guarded)
                for name in SOURCES for guarded in (True, False)}
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    jobs = {}
    for case in CASES:
        for label, guarded in (("guarded", True), ("plain", False)):
            project = projects[case.project, guarded]
            cwd = elsewhere if "{project}" in case.argv else project
            jobs[case.id, label] = (ENTRIES[case.entry] + list(case.argv), cwd, project)
        if case.usage_error:
            project = projects[case.project, True]
            jobs[case.id, "agentrun-tasks"] = ([sys.executable, "-m", "agentrun_tasks", *case.argv], project, project)
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1))) as pool:
        futures = {key: pool.submit(run, *job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


def one_paragraph(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("case", INVALID, ids=[case.id for case in INVALID])
def test_a_refused_command_line_exits_2_in_the_agentrun_tasks_paragraph(results, case):
    guarded, plain, contract = (results[case.id, label] for label in ("guarded", "plain", "agentrun-tasks"))
    assert plain.returncode == 1, plain.stderr  # without the call: invoke's parser, exit 1
    assert guarded.returncode == contract.returncode == 2, guarded.stderr
    said = one_paragraph(guarded)  # invoke's own message is not printed as well
    binary = case.entry if case.entry != "-m" else "invoke"
    assert said == one_paragraph(contract).replace("`agentrun-tasks ", f"`{binary} ")
    assert said.startswith("error: ")
    assert f"See `{binary} --help <task>`" in said
    if "--json" in case.argv:
        document = json.loads(guarded.stdout)
        assert document == {"error": said.removeprefix("error: "), "exit_code": 2,
                             "hint": "Fix the command line; nothing was run."}
    else:
        assert guarded.stdout == ""


@pytest.mark.parametrize("case", VALID, ids=[case.id for case in VALID])
def test_an_accepted_command_line_runs_as_without_the_call(results, case):
    guarded, plain = results[case.id, "guarded"], results[case.id, "plain"]
    assert (guarded.returncode, guarded.stdout, guarded.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert guarded.returncode in (0, 2), guarded.stderr
    assert "Traceback" not in guarded.stderr, guarded.stderr
    if guarded.returncode == 2:  # the task refused a value: its own paragraph, not the parser's
        assert "--help <task>" not in one_paragraph(guarded)


def test_imported_outside_invoke_it_does_nothing():
    """Under pytest, or any plain import: no exit, and invoke's own program is left as it was."""
    from invoke.main import program

    before = dict(vars(program))
    for source in (REPO / "tasks.py", REPO / "examples" / "composed" / "tasks.py"):
        runpy.run_path(str(source), run_name="tasks")
    assert vars(program) == before
