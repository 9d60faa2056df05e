"""An agent with ``credentialName`` is called with its credential (issue 8, item 8): the health
check and the canary probe send ``X-API-Key`` from the environment, the emulator refuses a call
without it (401), and the key never shows in what the check reports."""

from __future__ import annotations

import asyncio
import base64
import io
import zipfile
from pathlib import Path

from alibabacloud_agentrun20250910 import models as ar
from test_openapi import driver_for, wait_ready

from agentrun_tasks.adapters import health, probe
from agentrun_tasks.core.build import crc64
from agentrun_tasks.core.model import HealthConfig

SENTINEL = "sentinel-data-plane-key-4b1d"
EXAMPLE = Path(__file__).resolve().parents[2] / "code" / "app.py"


def guarded_endpoint(emu) -> str:
    driver = driver_for(emu)
    driver.client.create_credential(ar.CreateCredentialRequest(body=ar.CreateCredentialInput(
        credential_name="agent-key", credential_secret=SENTINEL, credential_auth_type="api_key",
        credential_source_type="internal")))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", EXAMPLE.read_text())
    data = buf.getvalue()
    runtime = driver.create_runtime({
        "agentRuntimeName": "guarded", "artifactType": "Code", "port": 9000, "credentialName": "agent-key",
        "codeConfiguration": {"zipFile": base64.b64encode(data).decode(), "language": "python3.12",
                              "command": ["python3", "app.py"], "checksum": str(crc64(data))}})
    wait_ready(driver, runtime.id)
    return driver.put_endpoint(runtime.id, "prod", target_version="LATEST").url


def test_health_check_and_probe_send_the_key_and_never_show_it(emulator, monkeypatch):
    url = guarded_endpoint(emulator)
    cfg = HealthConfig(timeout=1.0, interval=0.2)
    monkeypatch.delenv(health.API_KEY_VAR, raising=False)
    refused = health.check(url, cfg)
    assert not refused.ok
    assert refused.status == 401

    monkeypatch.setenv(health.API_KEY_VAR, SENTINEL)
    passed = health.check(url, cfg)
    assert passed.ok, passed.detail
    samples = asyncio.run(probe.probe(url, duration=0.5, rate=6))
    assert samples
    assert all(s.ok for s in samples)
    assert SENTINEL not in repr(passed) + repr(passed.to_dict()) + repr(refused.to_dict())


def test_the_environments_own_key_wins_over_the_generic_one():
    environ = {"AGENTRUN_API_KEY": "generic", "AGENTRUN_API_KEY_PROD": "prod-key"}
    assert health.data_plane_headers("prod", environ)["X-API-Key"].reveal() == "prod-key"
    assert health.data_plane_headers("dev", environ)["X-API-Key"].reveal() == "generic"
    assert health.data_plane_headers("dev", {}) == {}
    assert "prod-key" not in repr(health.data_plane_headers("prod", environ))


def test_an_endpoint_without_a_url_is_a_failed_attempt_not_a_traceback():
    status, detail, _, _ = health.chat_once("", HealthConfig())
    assert status is None
    assert "no URL" in detail
