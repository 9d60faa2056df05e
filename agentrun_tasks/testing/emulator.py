"""A real emulator process for tests: started on a free port in a temporary root, torn down
with no process or port left.

    from .emulator import running_emulator

    with running_emulator(tmp_path) as emu:
        client = AgentRunClient(emu.openapi_config())

or, with pytest, ``pytest_plugins = ["agentrun_tasks.testing.emulator"]`` and the ``emulator``
fixture (one emulator per test, in the test's ``tmp_path``).
"""

from __future__ import annotations

import json
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from ..core.secrets import Secret
from ..emulator import lifecycle
from ..emulator.account import read_credentials


@dataclass
class RunningEmulator:
    """A live emulator: where it listens and the bootstrap credentials it wrote."""

    root: Path
    url: str
    port: int
    pid: int
    access_key_id: str
    access_key_secret: Secret
    account_id: str

    @property
    def endpoint(self) -> str:
        """The ``host:port`` that tea-openapi's ``Config(endpoint=...)`` takes."""
        return f"127.0.0.1:{self.port}"

    def openapi_config(self, access_key_id: str | None = None, access_key_secret: str | None = None):
        """A tea-openapi ``Config`` for the official SDK clients, signed with the given or bootstrap key."""
        from alibabacloud_tea_openapi.models import Config

        return Config(access_key_id=access_key_id or self.access_key_id,
                      access_key_secret=access_key_secret or self.access_key_secret.reveal(),
                      endpoint=self.endpoint, protocol="http", region_id="cn-hangzhou")

    def set_faults(self, throttle: float = 0.0, error5xx: float = 0.0, **settings: float) -> dict:
        """Change the injected faults and latencies (``/_emulator/faults``; see emulator.faults):
        the two rates always (0 unless given), any other setting only when named."""
        body = json.dumps({"throttle": throttle, "error5xx": error5xx, **settings}).encode()
        req = urllib.request.Request(f"{self.url}/_emulator/faults", data=body, method="POST",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def restart(self) -> None:
        """Stop and start the emulator on the same root (state persists; it listens on the same port)."""
        lifecycle.stop(self.root)
        info = lifecycle.ensure_running(self.root)
        self.url, self.port, self.pid = info.url, info.port, info.pid


@contextmanager
def running_emulator(root: Path) -> Iterator[RunningEmulator]:
    """Start an emulator on ``root``; stop it and its agent processes on exit."""
    info = lifecycle.ensure_running(root)
    try:
        key_id, secret, account_id = read_credentials(root)
        yield RunningEmulator(Path(root), info.url, info.port, info.pid, key_id, secret, account_id)
    finally:
        lifecycle.stop(root)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A live emulator in this test's ``tmp_path``."""
    with running_emulator(tmp_path) as emu:
        yield emu
