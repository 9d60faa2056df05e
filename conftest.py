"""pytest's root configuration: the fixtures the library ships, the ``integration`` marker, and
how the suite spreads over pytest-xdist workers.

``pytest`` runs everything (the README's command and .ci/run) on ``-n auto`` workers (two per
core, since most of an integration test is waiting on processes); ``pytest -m "not integration"``
runs the fast part: the pure core, table tests and in-process adapters, with no emulator, agent
process or ``invoke`` subprocess. ``-p no:xdist`` (or ``-n 0``) runs in one process.
"""

from __future__ import annotations

import compileall
import inspect
import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["agentrun_tasks.testing.emulator", "agentrun_tasks.testing.keyring",
                  "agentrun_tasks.testing.s_reference", "agentrun_tasks.testing.rotation_world"]

TESTS = Path(__file__).resolve().parent / "tests"
# Folders whose every test starts an emulator, an agent or an `invoke` process.
INTEGRATION_FOLDERS = ("integration", "emulator", "contract", "hostile", "tasks", "journeys")
# Modules elsewhere whose tests run real processes: pip, check-jsonschema and groovy, the agent,
# invoke, or the emulator behind a fault matrix.
INTEGRATION_MODULES = frozenset({"test_no_secret_leaks.py", "test_pipelines.py", "test_example_agent.py",
                                 "test_composition.py", "flows/test_rotate.py", "flows/test_rotate_faults.py",
                                 "adapters/test_pip_target.py"})
# Fixtures that start one (a test using any of them is an integration test wherever it lives).
INTEGRATION_FIXTURES = frozenset({"emulator", "emu", "rotation_emulator", "project", "driver", "runtime",
                                  "s_reference"})
# The longest tests (seconds, measured serially here), started first so that no worker begins one
# of them while the others have run dry: greedy longest-first keeps the wall near the longest test.
LONGEST_FIRST = (
    "tests/integration/test_serverless_devs_release.py",  # ~75 s alone: ~65 real `s` (node) processes
    "tests/journeys/test_migrate.py",  # a venv, a wheel, uv and the generated jobs' every line
    "tests/test_pipelines.py::test_jenkinsfile_parses_as_groovy",  # ~15 s of CPU: one Groovy parse (cold cache)
    "tests/journeys/test_release_life.py",
    "tests/integration/test_cloud_latency.py",
    "tests/integration/test_real_traffic.py",
    "tests/integration/test_release.py",
    "tests/tasks/test_invoke_usage_errors.py",  # one module-scoped set of invoke runs
    "tests/integration/test_ci_semantics.py",  # one module-scoped checkout
    "tests/integration/test_deploy_results.py",
    "tests/integration/test_release_interrupt.py",
    "tests/integration/test_logs.py",
    "tests/test_no_secret_leaks.py",
    "tests/integration/test_notify.py",
    "tests/journeys",
    "tests/integration",
    "tests/flows/test_rotate_faults.py",
    "tests/tasks/test_rotate_task.py",
    "tests/hostile",
)

# Bytecode: a machine that sets PYTHONDONTWRITEBYTECODE (this build machine does) would compile
# every module of the SDKs and of this package again in each of the suite's ~340 `invoke`
# processes. The suite writes the caches once (into __pycache__, ignored by git) and its children
# read them; what a user's machine does is measured in benchmarks/, not here.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # once, in the controlling process
        compileall.compile_dir(str(Path(__file__).resolve().parent / "agentrun_tasks"), quiet=1)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two workers per core (at least 2, at most 8): an integration test mostly waits."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


# First: xdist's worker reads the xdist_group marks in its own hook, and the root conftest.py is
# registered before that hook's plugin, so without tryfirst xdist would run first and see none.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        relative = path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else ""
        if (relative.split("/")[0] in INTEGRATION_FOLDERS or relative in INTEGRATION_MODULES
                or INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.integration)
        if _uses_a_shared_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=_start_rank)


def _uses_a_shared_fixture(item: pytest.Item) -> bool:
    """Whether the test takes a fixture wider than itself that its module's tests share, maybe in
    an order they rely on: any module- or class-scoped one (an emulator, runs or an install), and a
    session-scoped one this suite defines (the contract targets); pytest's own (``tmp_path_factory``)
    and the library's session fixtures (``s_reference``) are safe on every worker. Its module then
    runs on one worker, which sets the fixture up once (``--dist loadgroup``). pytest exposes a
    test's fixture definitions only as ``_fixtureinfo``."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(defs and (defs[-1].scope in ("module", "class") or (
        defs[-1].scope in ("package", "session") and _defined_in_tests(defs[-1].func)))
        for defs in definitions.values())


def _defined_in_tests(function: object) -> bool:
    try:
        return Path(inspect.getfile(function)).resolve().is_relative_to(TESTS)  # type: ignore[arg-type]
    except TypeError:
        return False


def _start_rank(item: pytest.Item) -> int:
    """Where the test starts: the LONGEST_FIRST entries in their order, then the rest as collected
    (sort is stable)."""
    return next((rank for rank, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
                len(LONGEST_FIRST))
