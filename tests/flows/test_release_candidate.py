"""release.candidate against a real emulator: a version is published only when the runtime
provably holds the package the release built, and failure marks name the runtime and the code."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from types import SimpleNamespace

import pytest
from test_release_canary import AGENT, runtime_spec  # a zip of a minimal chat agent (same folder)

from agentrun_tasks.adapters.openapi import Connection, OpenApiDriver
from agentrun_tasks.core.build import crc64
from agentrun_tasks.core.cienv import CIContext
from agentrun_tasks.core.errors import BusyError
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.core.retry import NO_RETRY
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.flows.release import candidate as candidates
from agentrun_tasks.testing.emulator import running_emulator

CI = CIContext(platform="local", is_ci=False)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("emulator")) as emu:
        creds = SimpleNamespace(access_key_id=Secret(emu.access_key_id), access_key_secret=emu.access_key_secret,
                                security_token=None)
        yield OpenApiDriver(Connection(endpoint=emu.endpoint, protocol="http", region="cn-hangzhou",
                                       credentials=creds), NO_RETRY)


def ready(driver, name: str):
    runtime = driver.create_runtime(runtime_spec(name))
    deadline = time.monotonic() + 60
    while (runtime := driver.get_runtime(runtime.id)).busy and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtime.status == "READY", runtime.status_reason
    return runtime


def test_a_runtime_holding_other_code_than_this_release_built_publishes_nothing(driver):
    runtime = ready(driver, "race")
    reporter = Reporter(interactive=False)
    with pytest.raises(BusyError, match="changed under this release before publishing") as refused:
        candidates.ensure_candidate(driver, runtime, "a" * 64, CI, reporter, checksum="12345")
    assert runtime.checksum in str(refused.value)
    assert "12345" in str(refused.value)
    assert driver.list_versions(runtime.id) == []
    version = candidates.ensure_candidate(driver, runtime, "a" * 64, CI, reporter, checksum=runtime.checksum)
    assert version == "1"
    assert candidates.marker("a" * 64) in driver.list_versions(runtime.id)[0].description


def test_a_failure_mark_names_the_runtime_and_the_code_not_the_version_number(driver):
    first = ready(driver, "marks")
    assert candidates.ensure_candidate(driver, first, "b" * 64, CI, Reporter(interactive=False),
                                       checksum=first.checksum) == "1"
    old = candidates.failure_mark(driver, first, "1")
    assert old == f"{first.id}/{'b' * 16}"
    driver.delete_runtime(first.id)  # `invoke remove`, then a new deploy: numbers restart at 1
    second = ready(driver, "marks")
    driver.publish_version(second.id, "published by hand")  # no fingerprint: named by number
    assert candidates.failure_mark(driver, second, "1") == f"{second.id}/version-1"
    assert second.id != first.id


def other_code() -> dict:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        # A fixed time: a name alone stamps the entry with now, and two calls a second apart differ.
        zf.writestr(zipfile.ZipInfo("app.py", date_time=(2026, 1, 1, 0, 0, 0)), AGENT + "# other code\n")
    data = buf.getvalue()
    return {"zipFile": base64.b64encode(data).decode(), "language": "python3.10", "command": ["python3", "app.py"],
            "checksum": str(crc64(data))}


class Racing:
    """The driver, but a deploy that takes no lock lands on the runtime right before the publish."""

    def __init__(self, driver) -> None:
        self.driver = driver

    def __getattr__(self, name):
        return getattr(self.driver, name)

    def publish_version(self, runtime_id: str, description: str):
        self.driver.update_runtime(runtime_id, {"codeConfiguration": other_code()})
        deadline = time.monotonic() + 60
        while self.driver.get_runtime(runtime_id).busy and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.driver.publish_version(runtime_id, description)


def test_a_version_published_while_the_runtime_changed_is_refused_and_never_reused(driver):
    runtime = ready(driver, "raced")
    unproven: dict[str, str] = {}
    with pytest.raises(BusyError, match="while version 1 was published"):
        candidates.ensure_candidate(Racing(driver), runtime, "c" * 64, CI, Reporter(interactive=False),
                                    checksum=runtime.checksum, on_unproven=unproven.__setitem__)
    assert list(unproven) == ["1"]  # its description carries this fingerprint, but it may hold the other code
    now = driver.get_runtime(runtime.id)
    assert now.checksum == other_code()["checksum"]
    again = candidates.ensure_candidate(driver, now, "c" * 64, CI, Reporter(interactive=False),
                                        checksum=now.checksum, unproven=frozenset(unproven))
    assert again == "2"
