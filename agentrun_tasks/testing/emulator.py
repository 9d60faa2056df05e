"""A real emulator process for tests: started on a free port in a temporary root, torn down
with no process or port left.

    from .emulator import running_emulator

    with running_emulator(tmp_path) as emu:
        client = AgentRunClient(emu.openapi_config())

or, with pytest, ``pytest_plugins = ["agentrun_tasks.testing.emulator"]`` and its fixtures:

- ``emulator``: one emulator per test, in the test's ``tmp_path``;
- ``emu``: one emulator per test module, for modules whose tests share a runtime or two;
- ``restore_emu_faults``: puts ``emu``'s faults and latencies back after each test, so a test that
  calls ``emu.set_faults(...)`` leaves none behind. A module takes it for every test with
  ``pytestmark = pytest.mark.usefixtures("restore_emu_faults")``.

``VERSION_AGENT`` is a minimal agent program that answers ``{"version": ...}`` with the runtime
version it runs as, locally (the emulator's loopback address and port) and on AgentRun alike;
``agent_zip`` packs a program as a code package's ``app.py``.
"""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..core.secrets import Secret
from ..emulator import admin, lifecycle
from ..emulator.account import read_credentials

__all__ = ["VERSION_AGENT", "RunningEmulator", "agent_zip", "emu", "emulator", "restore_emu_faults", "running_emulator"]

VERSION_AGENT = """\
import http.server, json, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"version": os.environ.get("AGENTRUN_RUNTIME_VERSION")}).encode()
        self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
port = int(os.environ.get("FC_SERVER_PORT") or os.environ.get("PORT") or 9000)
http.server.ThreadingHTTPServer((os.environ.get("AGENTRUN_BIND_HOST", "0.0.0.0"), port), H).serve_forever()
"""


def agent_zip(source: str = VERSION_AGENT) -> bytes:
    """A code package (zip bytes) holding ``source`` as ``app.py``, run by ``python3 app.py``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


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

    def admin_headers(self) -> dict[str, str]:
        """The header that opens the admin routes (``/_emulator/*``), for requests a test builds."""
        return admin.plain(admin.headers(self.root))

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
                                     headers={"content-type": "application/json", **self.admin_headers()})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def faults(self) -> dict:
        """The current fault and latency settings (``GET /_emulator/faults``)."""
        req = urllib.request.Request(f"{self.url}/_emulator/faults", headers=self.admin_headers())
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def state_bucket(self, bucket: str) -> str:
        """Create ``bucket`` in this emulator's OSS (signed with the bootstrap key) and return the env
        file's ``release:`` line that keeps a cloud environment's release state there (two steps, 1 s
        apart), for environments that point their control plane at this emulator."""
        from types import SimpleNamespace

        from ..adapters.oss_store import OssStateStore

        running = lifecycle.status(self.root)
        if running is None:
            raise RuntimeError(f"no emulator runs on {self.root}")
        oss_url = running["oss_url"]
        key = SimpleNamespace(access_key_id=self.access_key_id, access_key_secret=self.access_key_secret,
                              security_token=None)
        OssStateStore(oss_url, bucket, "", key, "cn-hangzhou").ensure_bucket()
        return f"release: {{steps: [0.5, 1.0], interval: 1s, state_bucket: {bucket}, state_endpoint: '{oss_url}'}}\n"

    def backdate_key(self, key_id: str, days: float) -> None:
        """Make AccessKey ``key_id`` ``days`` old (a rotation's ``--min-age`` reads its CreateDate):
        the emulator is stopped, its state edited, and started again on the same port."""
        import time

        from ..emulator.state import State

        lifecycle.stop(self.root)
        state = State(self.root)
        state.keys[key_id]["createDate"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * 86400))
        state.save()
        self.restart()

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


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A live emulator shared by the tests of one module (state and runtimes carry over between them)."""
    with running_emulator(tmp_path_factory.mktemp("emulator")) as running:
        yield running


@pytest.fixture
def restore_emu_faults(emu: RunningEmulator) -> Iterator[None]:
    """After the test, ``emu``'s faults and latencies as they were before it (as the emulator started:
    ``AGENTRUN_EMULATOR_FAULTS`` over the defaults). Take it module-wide with
    ``pytestmark = pytest.mark.usefixtures("restore_emu_faults")``."""
    before = emu.faults()
    yield
    emu.set_faults(**before)
