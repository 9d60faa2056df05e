"""The emulator is as strict as AgentRun: endpoint lifecycle, writes refused while the runtime
changes, "already exists" by resource, float32 weights, data-plane credentials, and each
injectable fault; plus the hardening of issue 10 (code size cap, idle agents, loopback only).
Driven over real HTTP with the official SDK, one emulator for the module (instant latencies
unless a test asks for some)."""

from __future__ import annotations

import hashlib
import io
import json
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import psutil
import pytest
from alibabacloud_agentrun20250910 import models as ar
from alibabacloud_agentrun20250910.client import Client as AgentRunClient
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from test_control_sdk import code, create, wait_endpoint, wait_final

from agentrun_tasks.emulator.packages import CodeTooLarge, store_zip, unpack
from agentrun_tasks.testing.emulator import VERSION_AGENT, agent_zip

pytestmark = pytest.mark.usefixtures("restore_emu_faults")  # one emulator for the module: `emu`


@pytest.fixture(scope="module")
def client(emu) -> AgentRunClient:
    return AgentRunClient(emu.openapi_config())


@pytest.fixture(scope="module")
def rid(client) -> str:
    """A READY runtime with versions 1 and 2."""
    runtime = create(client, "strict")
    for _ in range(2):
        client.publish_runtime_version(runtime.agent_runtime_id, ar.PublishRuntimeVersionRequest(
            body=ar.PublishRuntimeVersionInput(description="v")))
    return runtime.agent_runtime_id


def new_endpoint(client, rid: str, name: str, target: str = "1", weights: dict | None = None):
    routing = ar.RoutingConfiguration(version_weights=[ar.VersionWeight(version=v, weight=w)
                                                       for v, w in (weights or {}).items()])
    return client.create_agent_runtime_endpoint(rid, ar.CreateAgentRuntimeEndpointRequest(
        body=ar.CreateAgentRuntimeEndpointInput(agent_runtime_endpoint_name=name, target_version=target,
                                                routing_configuration=routing))).body.data


def status_of(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_created_endpoint_is_creating_without_a_url_then_ready_with_one(emu, client, rid):
    emu.set_faults(latency=0.2)
    created = new_endpoint(client, rid, "fresh")
    assert (created.status, created.endpoint_public_url or "") == ("CREATING", "")
    url = f"{emu.url}/agent-runtimes/strict/endpoints/fresh/invocations"
    assert status_of(url) == 404  # nothing routes before it is READY
    got = wait_endpoint(client, rid, created.agent_runtime_endpoint_id)
    assert (got.status, got.endpoint_public_url) == ("READY", url)
    assert status_of(url) == 200


def test_writes_while_the_runtime_updates_are_refused_with_400(emu, client, rid):
    endpoint = wait_endpoint(client, rid, new_endpoint(client, rid, "during-update").agent_runtime_endpoint_id)
    emu.set_faults(latency=0.5)  # the update stays UPDATING for 1.5 s after its process started
    client.update_agent_runtime(rid, ar.UpdateAgentRuntimeRequest(body=ar.UpdateAgentRuntimeInput(description="u")))
    writes = [
        lambda: new_endpoint(client, rid, "another"),
        lambda: client.update_agent_runtime_endpoint(rid, endpoint.agent_runtime_endpoint_id,
                                                     ar.UpdateAgentRuntimeEndpointRequest(
                                                         body=ar.UpdateAgentRuntimeEndpointInput(target_version="2"))),
        lambda: client.publish_runtime_version(rid, ar.PublishRuntimeVersionRequest(
            body=ar.PublishRuntimeVersionInput(description="x"))),
    ]
    for write in writes:
        with pytest.raises(ClientException) as refused:
            write()
        assert refused.value.status_code == 400
        assert "requires status READY" in refused.value.message
    assert wait_final(client, rid).status == "READY"


def test_already_exists_is_400_409_or_500_by_resource(client, rid):
    with pytest.raises(ClientException) as runtime:
        client.create_agent_runtime(ar.CreateAgentRuntimeRequest(body=ar.CreateAgentRuntimeInput(
            agent_runtime_name="strict", code_configuration=code(agent_zip()), port=9000)))
    new_endpoint(client, rid, "twice")
    with pytest.raises(ClientException) as endpoint:
        new_endpoint(client, rid, "twice")
    credential = ar.CreateCredentialInput(credential_name="dup-key", credential_secret="s", credential_auth_type="api_key",
                                          credential_source_type="internal")
    client.create_credential(ar.CreateCredentialRequest(body=credential))
    with pytest.raises(ServerException) as again:
        client.create_credential(ar.CreateCredentialRequest(body=credential))
    statuses = [e.value.status_code for e in (runtime, endpoint, again)]
    assert statuses == [400, 409, 500]
    assert all("already exists" in e.value.message for e in (runtime, endpoint, again))


def test_weights_come_back_as_float32_and_the_placeholder_fault_shows_the_empty_entry(emu, client, rid):
    split = wait_endpoint(client, rid, new_endpoint(client, rid, "f32", weights={"2": 0.35}).agent_runtime_endpoint_id)
    assert split.routing_configuration.to_map() == {"versionWeights": [{"version": "2", "weight": 0.3499999940395355}]}
    plain = wait_endpoint(client, rid, new_endpoint(client, rid, "plain").agent_runtime_endpoint_id)
    assert plain.routing_configuration is None
    emu.set_faults(placeholder_weights=1)
    shown = client.get_agent_runtime_endpoint(rid, plain.agent_runtime_endpoint_id).body.data
    assert shown.routing_configuration.to_map() == {"versionWeights": [{"version": "", "weight": 0.0}]}


def test_the_sticky_split_fault_keeps_a_split_an_empty_list_would_clear(emu, client, rid):
    endpoint = wait_endpoint(client, rid, new_endpoint(client, rid, "sticky", weights={"2": 0.5}).agent_runtime_endpoint_id)

    def clear():
        client.update_agent_runtime_endpoint(rid, endpoint.agent_runtime_endpoint_id, ar.UpdateAgentRuntimeEndpointRequest(
            body=ar.UpdateAgentRuntimeEndpointInput(target_version="1", routing_configuration=ar.RoutingConfiguration(
                version_weights=[]))))
        return wait_endpoint(client, rid, endpoint.agent_runtime_endpoint_id).routing_configuration

    emu.set_faults(sticky_split=1)
    assert clear().to_map() == {"versionWeights": [{"version": "2", "weight": 0.5}]}
    emu.set_faults(sticky_split=0)
    assert clear() is None


def test_the_stale_update_status_fault_echoes_the_status_from_before(emu, client, rid):
    emu.set_faults(stale_update_status=1, latency=0.3)
    answer = client.update_agent_runtime(rid, ar.UpdateAgentRuntimeRequest(
        body=ar.UpdateAgentRuntimeInput(description="stale"))).body.data
    assert answer.status == "READY"
    assert client.get_agent_runtime(rid, ar.GetAgentRuntimeRequest()).body.data.status == "UPDATING"
    assert wait_final(client, rid).status == "READY"


def test_a_runtime_keeps_its_endpoints_until_their_deletion_finished(emu, client):
    runtime = create(client, "to-remove")
    ident = runtime.agent_runtime_id
    endpoint = wait_endpoint(client, ident, new_endpoint(client, ident, "ep", target="LATEST").agent_runtime_endpoint_id)
    emu.set_faults(latency=0.3)
    deleting = client.delete_agent_runtime_endpoint(ident, endpoint.agent_runtime_endpoint_id).body.data
    assert deleting.status == "DELETING"
    with pytest.raises(ClientException) as refused:
        client.delete_agent_runtime(ident)
    assert refused.value.status_code == 400
    assert "still has endpoints" in refused.value.message
    time.sleep(0.5)
    client.delete_agent_runtime(ident)


def test_a_runtime_with_a_credential_answers_401_without_it(emu, client):
    client.create_credential(ar.CreateCredentialRequest(body=ar.CreateCredentialInput(
        credential_name="agent-key", credential_secret="s3cret-data-key", credential_auth_type="api_key",
        credential_source_type="internal")))
    body = ar.CreateAgentRuntimeInput(agent_runtime_name="guarded", code_configuration=code(agent_zip()), port=9000,
                                      credential_name="agent-key")
    runtime = client.create_agent_runtime(ar.CreateAgentRuntimeRequest(body=body)).body.data
    assert wait_final(client, runtime.agent_runtime_id).status == "READY"
    wait_endpoint(client, runtime.agent_runtime_id,
            new_endpoint(client, runtime.agent_runtime_id, "ep", target="LATEST").agent_runtime_endpoint_id)
    url = f"{emu.url}/agent-runtimes/guarded/endpoints/ep/invocations"
    assert status_of(url) == 401
    assert status_of(url, {"X-API-Key": "wrong"}) == 401
    assert status_of(url, {"X-API-Key": "s3cret-data-key"}) == 200
    shown = client.get_credential("agent-key").body.data.to_map()
    assert "s3cret-data-key" not in json.dumps(shown)


def zeros_zip(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("big.bin", "w", force_zip64=True) as out:
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            out.write(chunk)
    return buf.getvalue()


def test_a_small_zip_that_unpacks_beyond_the_code_size_cap_is_refused(client):
    bomb = zeros_zip(600 << 20)
    assert len(bomb) < 1 << 20  # under a megabyte on the wire
    with pytest.raises(ClientException) as refused:
        client.create_agent_runtime(ar.CreateAgentRuntimeRequest(body=ar.CreateAgentRuntimeInput(
            agent_runtime_name="bomb", code_configuration=code(bomb), port=9000)))
    assert refused.value.status_code == 400
    assert "unpacks to more than" in refused.value.message


def test_unpacking_counts_the_bytes_written_not_the_sizes_declared(tmp_path):
    data = zeros_zip(3 << 20)
    with pytest.raises(CodeTooLarge):
        store_zip(tmp_path, "declared", data, limit=2 << 20)
    assert store_zip(tmp_path, "written", data)
    with pytest.raises(CodeTooLarge):
        unpack(tmp_path, "written", limit=2 << 20)
    assert not (tmp_path / "written").exists()
    assert not list(tmp_path.glob(".*"))


def versions_running(emu, data: bytes) -> set[str]:
    """The versions running the package ``data`` (each process's environment says which)."""
    sha = hashlib.sha256(data).hexdigest()
    health = urllib.request.Request(f"{emu.url}/_emulator/health", headers=emu.admin_headers())
    with urllib.request.urlopen(health, timeout=5) as resp:
        pids = json.loads(resp.read())["agents"].values()
    running = set()
    for pid in pids:
        try:
            environ = psutil.Process(pid).environ()
        except psutil.Error:
            continue
        if environ.get("PYTHONPATH", "").endswith(sha):
            running.add(environ["AGENTRUN_RUNTIME_VERSION"])
    return running


def agent_pids(emu, data: bytes) -> list[int]:
    sha = hashlib.sha256(data).hexdigest()
    health = urllib.request.Request(f"{emu.url}/_emulator/health", headers=emu.admin_headers())
    with urllib.request.urlopen(health, timeout=5) as resp:
        pids = json.loads(resp.read())["agents"].values()
    return [pid for pid in pids if psutil.Process(pid).environ().get("PYTHONPATH", "").endswith(sha)]


def test_a_version_no_endpoint_routes_to_is_stopped_when_idle_and_started_on_demand(emu, client):
    data = agent_zip(VERSION_AGENT + "# the idler's own package\n")
    ident = create(client, "idler", data=data).agent_runtime_id
    client.publish_runtime_version(ident, ar.PublishRuntimeVersionRequest(body=ar.PublishRuntimeVersionInput()))
    endpoint = wait_endpoint(client, ident, new_endpoint(client, ident, "idle", target="1").agent_runtime_endpoint_id)
    url = f"{emu.url}/agent-runtimes/idler/endpoints/idle/invocations"
    assert status_of(url) == 200
    assert versions_running(emu, data) == {"LATEST", "1"}

    def point_at(version: str) -> None:
        client.update_agent_runtime_endpoint(ident, endpoint.agent_runtime_endpoint_id,
                                             ar.UpdateAgentRuntimeEndpointRequest(
                                                 body=ar.UpdateAgentRuntimeEndpointInput(target_version=version)))
        wait_endpoint(client, ident, endpoint.agent_runtime_endpoint_id)

    point_at("LATEST")
    emu.set_faults(idle_stop=0.3)
    deadline = time.monotonic() + 10
    while "1" in versions_running(emu, data) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert versions_running(emu, data) == {"LATEST"}  # the routed version stays, however idle
    point_at("1")
    assert status_of(url) == 200  # started again on demand
    assert "1" in versions_running(emu, data)


def test_local_agents_listen_on_loopback_only(emu, client):
    example = (Path(__file__).resolve().parents[2] / "code" / "app.py").read_text()
    data = agent_zip(example)
    runtime = create(client, "loopback", data=data)
    assert runtime.status == "READY", runtime.status_reason
    pids = agent_pids(emu, data)
    assert pids
    listening = {c.laddr.ip for pid in pids for c in psutil.Process(pid).net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}


def test_a_container_agent_runs_its_command_as_a_local_process_or_is_refused_precisely(emu, client):
    example = Path(__file__).resolve().parents[2] / "code" / "app.py"

    def container(name: str, command: list[str] | None):
        config = ar.ContainerConfiguration(image="registry.cn-hangzhou.aliyuncs.com/me/agent:1", command=command,
                                           port=9000, image_registry_type="ACR")
        assert config.to_map()["image"]  # the SDK's request shape, as the devsapp component fills it
        return client.create_agent_runtime(ar.CreateAgentRuntimeRequest(body=ar.CreateAgentRuntimeInput(
            agent_runtime_name=name, artifact_type="Container", container_configuration=config, port=9000)))

    with pytest.raises(ClientException) as refused:
        container("no-command", None)
    assert refused.value.status_code == 400
    assert "no container engine" in refused.value.message
    runtime = wait_final(client, container("boxed", ["python3", str(example)]).body.data.agent_runtime_id)
    assert runtime.status == "READY", runtime.status_reason
    assert runtime.container_configuration.image.endswith("agent:1")
    endpoint = wait_endpoint(client, runtime.agent_runtime_id,
                             new_endpoint(client, runtime.agent_runtime_id, "ep", target="LATEST").agent_runtime_endpoint_id)
    request = urllib.request.Request(endpoint.endpoint_public_url + "/openai/v1/chat/completions", method="POST",
                                     data=json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert "You said: hi" in json.loads(resp.read())["choices"][0]["message"]["content"]
