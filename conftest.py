"""pytest's root configuration: the fixtures the library ships, and the ``integration`` marker.

``pytest`` runs everything (the README's command and .ci/run); ``pytest -m "not integration"``
runs the fast part: the pure core, table tests and in-process adapters, with no emulator, agent
process or ``invoke`` subprocess.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["agentrun_tasks.testing.emulator", "agentrun_tasks.testing.keyring",
                  "agentrun_tasks.testing.s_reference"]

TESTS = Path(__file__).resolve().parent / "tests"
# Folders whose every test starts an emulator, an agent or an `invoke` process.
INTEGRATION_FOLDERS = ("integration", "emulator", "contract", "hostile", "tasks", "journeys")
# Modules elsewhere whose tests run real processes: pip, check-jsonschema and groovy, the agent,
# invoke, or the emulator behind a fault matrix.
INTEGRATION_MODULES = frozenset({"test_no_secret_leaks.py", "test_pipelines.py", "test_example_agent.py",
                                 "test_composition.py", "flows/test_rotate.py", "adapters/test_pip_target.py"})
# Fixtures that start one (a test using any of them is an integration test wherever it lives).
INTEGRATION_FIXTURES = frozenset({"emulator", "emu", "project", "driver", "runtime", "s_reference"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: starts an emulator, an agent process or an invoke "
                                       "subprocess (deselect with -m 'not integration')")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        relative = path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else ""
        if (relative.split("/")[0] in INTEGRATION_FOLDERS or relative in INTEGRATION_MODULES
                or INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.integration)
