"""The official AgentRun SDK against a real emulator process over HTTP: it cannot tell."""

from __future__ import annotations

import base64
import json
import time
import urllib.request

import pytest
from alibabacloud_agentrun20250910 import models as ar
from alibabacloud_agentrun20250910.client import Client as AgentRunClient
from alibabacloud_tea_openapi.exceptions import (
    ClientException,
    ServerException,
    ThrottlingException,
)

from agentrun_tasks.core.build import crc64
from agentrun_tasks.emulator.faults import Faults
from agentrun_tasks.testing.emulator import VERSION_AGENT, agent_zip


def code(data: bytes, checksum: bool = True, command=("python3", "app.py")) -> ar.CodeConfiguration:
    return ar.CodeConfiguration(zip_file=base64.b64encode(data).decode(), language="python3.10",
                                command=list(command), checksum=str(crc64(data)) if checksum else None)


def wait_final(client: AgentRunClient, runtime_id: str, timeout: float = 30) -> ar.AgentRuntime:
    deadline = time.monotonic() + timeout
    while True:
        runtime = client.get_agent_runtime(runtime_id, ar.GetAgentRuntimeRequest()).body.data
        if runtime.status not in ("CREATING", "UPDATING") or time.monotonic() > deadline:
            return runtime
        time.sleep(0.1)


def create(client: AgentRunClient, name: str, data: bytes | None = None, **kwargs) -> ar.AgentRuntime:
    body = ar.CreateAgentRuntimeInput(agent_runtime_name=name, code_configuration=code(data or agent_zip(), **kwargs),
                                      cpu=1.0, memory=2048, port=9000, artifact_type="Code",
                                      environment_variables={"GREETING": "hi"})
    created = client.create_agent_runtime(ar.CreateAgentRuntimeRequest(body=body)).body
    assert created.code == "SUCCESS"
    assert created.request_id
    assert created.data.status == "CREATING"
    return wait_final(client, created.data.agent_runtime_id)


def test_runtime_versions_and_canary_endpoint_round_trip(emulator):
    client = AgentRunClient(emulator.openapi_config())
    runtime = create(client, "demo-agent")
    assert runtime.status == "READY", runtime.status_reason
    assert runtime.environment_variables == {"GREETING": "hi"}
    assert runtime.port == 9000
    rid = runtime.agent_runtime_id
    v1 = client.publish_runtime_version(rid, ar.PublishRuntimeVersionRequest(
        body=ar.PublishRuntimeVersionInput(description="first", publisher="ci"))).body.data
    v2 = client.publish_runtime_version(rid, ar.PublishRuntimeVersionRequest(
        body=ar.PublishRuntimeVersionInput(description="second"))).body.data
    assert (v1.agent_runtime_version, v2.agent_runtime_version) == ("1", "2")
    versions = client.list_agent_runtime_versions(rid, ar.ListAgentRuntimeVersionsRequest()).body.data
    assert [v.agent_runtime_version for v in versions.items] == ["1", "2"]
    assert versions.total == 2

    routing = ar.RoutingConfiguration(version_weights=[ar.VersionWeight(version="2", weight=0.2)])
    endpoint = client.create_agent_runtime_endpoint(rid, ar.CreateAgentRuntimeEndpointRequest(
        body=ar.CreateAgentRuntimeEndpointInput(agent_runtime_endpoint_name="prod", target_version="1",
                                                routing_configuration=routing, description="users"))).body.data
    # As on the cloud, the answer to a create is not READY and has no URL yet.
    assert endpoint.status == "CREATING"
    assert not endpoint.endpoint_public_url
    got = wait_endpoint(client, rid, endpoint.agent_runtime_endpoint_id)
    assert got.target_version == "1"
    assert got.description == "users"
    assert got.status == "READY"
    # 0.2 comes back as the float32 the wire holds.
    assert got.routing_configuration.to_map() == {"versionWeights": [{"version": "2", "weight": 0.20000000298023224}]}
    assert got.endpoint_public_url == f"{emulator.url}/agent-runtimes/demo-agent/endpoints/prod/invocations"

    # The endpoint URL serves the versions' real processes.
    with urllib.request.urlopen(got.endpoint_public_url, timeout=10) as resp:
        assert json.loads(resp.read())["version"] in ("1", "2")

    # A plain update (no routingConfiguration) clears the split: the emulator's documented choice.
    updated = client.update_agent_runtime_endpoint(rid, endpoint.agent_runtime_endpoint_id,
                                                   ar.UpdateAgentRuntimeEndpointRequest(
        body=ar.UpdateAgentRuntimeEndpointInput(target_version="2"))).body.data
    assert updated.target_version == "2"
    assert updated.routing_configuration is None
    assert updated.status == "UPDATING"
    assert wait_endpoint(client, rid, endpoint.agent_runtime_endpoint_id).status == "READY"

    listed = client.list_agent_runtime_endpoints(rid, ar.ListAgentRuntimeEndpointsRequest(
        endpoint_name="prod", search_mode="exact")).body.data
    assert [e.agent_runtime_endpoint_name for e in listed.items] == ["prod"]


def wait_endpoint(client: AgentRunClient, runtime_id: str, endpoint_id: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while True:
        got = client.get_agent_runtime_endpoint(runtime_id, endpoint_id).body.data
        if got.status == "READY" or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_list_by_exact_name_and_paging(emulator):
    client = AgentRunClient(emulator.openapi_config())
    for name in ("svc", "svc-canary"):
        client.create_agent_runtime(ar.CreateAgentRuntimeRequest(body=ar.CreateAgentRuntimeInput(
            agent_runtime_name=name, code_configuration=code(agent_zip()), port=9000)))
    exact = client.list_agent_runtimes(ar.ListAgentRuntimesRequest(agent_runtime_name="svc", search_mode="exact"))
    assert [r.agent_runtime_name for r in exact.body.data.items] == ["svc"]
    fuzzy = client.list_agent_runtimes(ar.ListAgentRuntimesRequest(agent_runtime_name="svc"))
    assert sorted(r.agent_runtime_name for r in fuzzy.body.data.items) == ["svc", "svc-canary"]
    paged = client.list_agent_runtimes(ar.ListAgentRuntimesRequest(page_number=2, page_size=1)).body.data
    assert (paged.page_number, paged.page_size, paged.total, len(paged.items)) == (2, 1, 2, 1)


def test_errors_map_to_client_exception_codes(emulator):
    client = AgentRunClient(emulator.openapi_config())
    with pytest.raises(ClientException) as missing:
        client.get_agent_runtime("no-such-id", ar.GetAgentRuntimeRequest())
    assert (missing.value.status_code, missing.value.code) == (404, "ERR_NOT_FOUND")
    assert "does not exist" in missing.value.message

    create(client, "dup")
    with pytest.raises(ClientException) as dup:
        create(client, "dup")
    # A runtime's "already exists" is a 400 (an endpoint's is a 409): classify on the message.
    assert (dup.value.status_code, dup.value.code) == (400, "ERR_VALIDATION_FAILED")
    assert "already exists" in dup.value.message

    with pytest.raises(ClientException) as bad_crc:
        client.create_agent_runtime(ar.CreateAgentRuntimeRequest(body=ar.CreateAgentRuntimeInput(
            agent_runtime_name="crc", code_configuration=ar.CodeConfiguration(
                zip_file=base64.b64encode(agent_zip()).decode(), command=["python3", "app.py"], checksum="1"))))
    assert (bad_crc.value.status_code, bad_crc.value.code) == (400, "ERR_VALIDATION_FAILED")

    rid = client.list_agent_runtimes(ar.ListAgentRuntimesRequest(agent_runtime_name="dup", search_mode="exact")
                                     ).body.data.items[0].agent_runtime_id
    with pytest.raises(ClientException) as weights:
        client.create_agent_runtime_endpoint(rid, ar.CreateAgentRuntimeEndpointRequest(
            body=ar.CreateAgentRuntimeEndpointInput(agent_runtime_endpoint_name="e", target_version="7")))
    assert (weights.value.status_code, weights.value.code) == (400, "ERR_VALIDATION_FAILED")


def test_failed_start_and_update_conflict(emulator):
    client = AgentRunClient(emulator.openapi_config())
    broken = create(client, "broken", data=agent_zip("raise SystemExit('no config: boom')\n"))
    assert broken.status == "CREATE_FAILED"
    assert "boom" in broken.status_reason

    slow = agent_zip("import time; time.sleep(3)\n" + VERSION_AGENT)
    runtime = client.create_agent_runtime(ar.CreateAgentRuntimeRequest(body=ar.CreateAgentRuntimeInput(
        agent_runtime_name="slow", code_configuration=code(slow), port=9000))).body.data
    with pytest.raises(ClientException) as busy:
        client.update_agent_runtime(runtime.agent_runtime_id, ar.UpdateAgentRuntimeRequest(
            body=ar.UpdateAgentRuntimeInput(description="now")))
    assert (busy.value.status_code, busy.value.code) == (409, "ERR_CONFLICT")
    assert wait_final(client, runtime.agent_runtime_id).status == "READY"


def test_faults_raise_the_sdks_throttling_and_server_exceptions(emulator):
    client = AgentRunClient(emulator.openapi_config())
    emulator.set_faults(throttle=1.0)
    with pytest.raises(ThrottlingException) as throttled:
        client.list_agent_runtimes(ar.ListAgentRuntimesRequest())
    assert throttled.value.status_code == 429
    assert throttled.value.code == "Throttling"
    emulator.set_faults(error5xx=1.0)
    with pytest.raises(ServerException) as failed:
        client.list_agent_runtimes(ar.ListAgentRuntimesRequest())
    assert failed.value.status_code == 503
    emulator.set_faults()
    assert client.list_agent_runtimes(ar.ListAgentRuntimesRequest()).body.data.total == 0


def test_fault_spec_from_environment_is_validated():
    assert Faults.parse("throttle=0.3, error5xx=0.1") == Faults(throttle=0.3, error5xx=0.1)
    assert Faults.parse("") == Faults()
    assert Faults().latency == 1.0
    assert Faults.parse("latency=0,sticky_split=1").updated({"throttle": 0.5}) == Faults(
        latency=0.0, sticky_split=1.0, throttle=0.5)
    for bad in ("throttle=2", "slow=0.1", "error5xx=x"):
        with pytest.raises(ValueError, match=r"outside \[0, 1\]|unknown fault|not a number"):
            Faults.parse(bad)


def test_two_unpacks_of_one_package_at_once_both_get_its_directory(tmp_path, monkeypatch):
    import hashlib
    import tempfile

    from agentrun_tasks.emulator import packages

    data = agent_zip()
    sha = hashlib.sha256(data).hexdigest()
    assert packages.store_zip(tmp_path, sha, data)
    real_mkdtemp = tempfile.mkdtemp
    raced: list = []

    def mkdtemp_then_the_other_unpack_finishes(**kwargs):
        staging = real_mkdtemp(**kwargs)
        if not raced:  # the other runtime's unpack runs to its end between our check and rename
            raced.append(None)
            raced[0] = packages.unpack(tmp_path, sha)
        return staging

    monkeypatch.setattr(packages.tempfile, "mkdtemp", mkdtemp_then_the_other_unpack_finishes)
    assert packages.unpack(tmp_path, sha) == raced[0] == tmp_path / sha
    assert (tmp_path / sha / "app.py").read_text() == VERSION_AGENT
    assert sorted(p.name for p in tmp_path.iterdir()) == [sha, f"{sha}.zip"]  # no staging left
