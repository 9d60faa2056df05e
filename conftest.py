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
INTEGRATION_FOLDERS = ("integration", "emulator", "contract", "hostile")
# Fixtures that start one (a test using any of them is an integration test wherever it lives).
INTEGRATION_FIXTURES = frozenset({"emulator", "emu", "project", "driver", "runtime", "s_reference"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: starts an emulator, an agent process or an invoke "
                                       "subprocess (deselect with -m 'not integration')")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        folder = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else ""
        if folder in INTEGRATION_FOLDERS or INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
