"""The AgentRun API behaviours agentrun-tasks relies on, as one suite for two targets: the local
emulator (every run) and a real account (opt-in, see conftest.py). Assertions are what the tool
needs; ``observe`` records the answers to the open questions (weight scale, what ``[]`` does,
float32, the URL at create time, the status an update answers, "already exists" codes) in the
report. Tests run in file order on one runtime per target."""

from __future__ import annotations

import base64
import os
import time
import urllib.error
import urllib.request

import pytest
from alibabacloud_agentrun20250910 import models as ar
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from agentrun_tasks.adapters.openapi_connection import Connection
from agentrun_tasks.adapters.openapi_errors import NotReady, translate
from agentrun_tasks.adapters.sls_client import SlsProject
from agentrun_tasks.core import fclogs
from agentrun_tasks.core.build import crc64
from agentrun_tasks.core.credentials import Credentials
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.testing.emulator import agent_zip


def code() -> ar.CodeConfiguration:
    data = agent_zip()
    return ar.CodeConfiguration(zip_file=base64.b64encode(data).decode(), language="python3.12",
                                command=["python3", "app.py"], checksum=str(crc64(data)))


def until(target, read, done, what: str):
    deadline = time.monotonic() + target.timeout
    while True:
        got = read()
        if done(got):
            return got
        assert time.monotonic() < deadline, f"{what} never settled: last {got.to_map()}"
        time.sleep(0.2 if target.name == "emulator" else 5)


def runtime_of(target, runtime_id: str):
    return target.client.get_agent_runtime(runtime_id, ar.GetAgentRuntimeRequest()).body.data


def settled_runtime(target, runtime_id: str):
    return until(target, lambda: runtime_of(target, runtime_id),
                 lambda r: r.status not in ("CREATING", "UPDATING"), "runtime")


def settled_endpoint(target, runtime_id: str, endpoint_id: str):
    return until(target, lambda: target.client.get_agent_runtime_endpoint(runtime_id, endpoint_id).body.data,
                 lambda e: e.status not in ("CREATING", "UPDATING") and e.endpoint_public_url, "endpoint")


def refusal(call) -> AlibabaCloudException | None:
    try:
        call()
    except AlibabaCloudException as exc:
        return exc
    return None


def described(exc: AlibabaCloudException | None) -> object:
    return "accepted" if exc is None else {"status": exc.status_code, "code": exc.code, "message": exc.message}


def weights_of(endpoint) -> list:
    routing = endpoint.routing_configuration
    return [] if routing is None else [w.to_map() for w in routing.version_weights or []]


def endpoint_input(name: str, target: str, weights: dict | None):
    routing = None if weights is None else ar.RoutingConfiguration(
        version_weights=[ar.VersionWeight(version=v, weight=w) for v, w in weights.items()])
    return ar.CreateAgentRuntimeEndpointInput(agent_runtime_endpoint_name=name, target_version=target,
                                              routing_configuration=routing)


@pytest.fixture(scope="session")
def runtime(target):
    body = ar.CreateAgentRuntimeInput(agent_runtime_name=f"{target.prefix}-rt", code_configuration=code(),
                                      artifact_type="Code", cpu=0.5, memory=1024, port=9000,
                                      description="agentrun-tasks contract suite")
    created = target.client.create_agent_runtime(ar.CreateAgentRuntimeRequest(body=body)).body.data
    target.created.append(created.agent_runtime_id)
    target.observe("create runtime: status in the answer", created.status)
    ready = settled_runtime(target, created.agent_runtime_id)
    assert ready.status == "READY", ready.status_reason
    return ready.agent_runtime_id


def test_update_answer_status_and_writes_while_the_runtime_updates(target, runtime):
    answer = target.client.update_agent_runtime(runtime, ar.UpdateAgentRuntimeRequest(
        body=ar.UpdateAgentRuntimeInput(description="updated by the contract suite"))).body.data
    target.observe("update runtime: status in the answer", answer.status)
    target.observe("update runtime: status read right after", runtime_of(target, runtime).status)
    refused = refusal(lambda: target.client.publish_runtime_version(runtime, ar.PublishRuntimeVersionRequest(
        body=ar.PublishRuntimeVersionInput(description="during update"))))
    target.observe("publish while the runtime updates", described(refused))
    if refused is not None:  # the driver must read it as "wait and retry", never as bad input
        assert isinstance(translate(refused, "publish"), NotReady) or refused.status_code >= 500
    assert settled_runtime(target, runtime).status == "READY"


def test_publish_gives_increasing_versions_and_pages_list_them(target, runtime):
    numbers = []
    for description in ("contract one", "contract two"):
        version = target.client.publish_runtime_version(runtime, ar.PublishRuntimeVersionRequest(
            body=ar.PublishRuntimeVersionInput(description=description))).body.data
        numbers.append(int(version.agent_runtime_version))
    assert numbers[1] > numbers[0]
    page = target.client.list_agent_runtime_versions(runtime, ar.ListAgentRuntimeVersionsRequest(
        page_number=1, page_size=1)).body.data
    assert len(page.items) == 1
    assert page.total >= 2
    target.observe("versions published", numbers)


def versions(target, runtime) -> list[str]:
    items = target.client.list_agent_runtime_versions(runtime, ar.ListAgentRuntimeVersionsRequest(
        page_size=100)).body.data.items
    return sorted((v.agent_runtime_version for v in items), key=int)[-2:]


def test_an_endpoint_is_created_without_a_url_then_ready_with_one(target, runtime):
    stable, _ = versions(target, runtime)
    created = target.client.create_agent_runtime_endpoint(runtime, ar.CreateAgentRuntimeEndpointRequest(
        body=endpoint_input("contract-plain", stable, None))).body.data
    target.observe("create endpoint: status and URL in the answer",
                   {"status": created.status, "url": created.endpoint_public_url or ""})
    ready = settled_endpoint(target, runtime, created.agent_runtime_endpoint_id)
    target.observe("create endpoint: settled status", ready.status)
    assert ready.status == "READY"
    assert ready.endpoint_public_url


def test_a_split_its_weight_scale_float32_and_clearing_it(target, runtime):
    stable, canary = versions(target, runtime)
    percent = refusal(lambda: target.client.create_agent_runtime_endpoint(runtime, ar.CreateAgentRuntimeEndpointRequest(
        body=endpoint_input("contract-percent", stable, {canary: 35.0}))))
    target.observe("weight 35 (a percentage) on create", described(percent))
    created = target.client.create_agent_runtime_endpoint(runtime, ar.CreateAgentRuntimeEndpointRequest(
        body=endpoint_input("contract-split", stable, {canary: 0.35}))).body.data
    split = settled_endpoint(target, runtime, created.agent_runtime_endpoint_id)
    target.observe("weight 0.35 read back", weights_of(split))
    [entry] = [w for w in weights_of(split) if w.get("version")]
    assert entry["version"] == canary
    assert abs(entry["weight"] - 0.35) < 1e-5

    def update(weights: dict | None):
        body = ar.UpdateAgentRuntimeEndpointInput(target_version=stable, routing_configuration=None if weights is None
                                                  else ar.RoutingConfiguration(version_weights=[]))
        target.client.update_agent_runtime_endpoint(runtime, created.agent_runtime_endpoint_id,
                                                    ar.UpdateAgentRuntimeEndpointRequest(body=body))
        return weights_of(settled_endpoint(target, runtime, created.agent_runtime_endpoint_id))

    target.observe("versionWeights [] on update: weights read back", update({}))
    target.client.update_agent_runtime_endpoint(runtime, created.agent_runtime_endpoint_id,
                                                ar.UpdateAgentRuntimeEndpointRequest(body=ar.UpdateAgentRuntimeEndpointInput(
                                                    target_version=stable, routing_configuration=ar.RoutingConfiguration(
                                                        version_weights=[ar.VersionWeight(version=canary, weight=0.5)]))))
    settled_endpoint(target, runtime, created.agent_runtime_endpoint_id)
    target.observe("no routingConfiguration on update: weights read back", update(None))


def test_already_exists_and_not_found_answers(target, runtime):
    again = refusal(lambda: target.client.create_agent_runtime(ar.CreateAgentRuntimeRequest(
        body=ar.CreateAgentRuntimeInput(agent_runtime_name=f"{target.prefix}-rt", code_configuration=code(),
                                        artifact_type="Code", cpu=0.5, memory=1024, port=9000))))
    stable, _ = versions(target, runtime)
    twice = refusal(lambda: target.client.create_agent_runtime_endpoint(runtime, ar.CreateAgentRuntimeEndpointRequest(
        body=endpoint_input("contract-plain", stable, None))))
    missing = refusal(lambda: target.client.get_agent_runtime("00000000-0000-0000-0000-000000000000",
                                                              ar.GetAgentRuntimeRequest()))
    for question, exc in (("runtime already exists", again), ("endpoint already exists", twice),
                          ("runtime not found", missing)):
        target.observe(question, described(exc))
    assert again is not None
    assert "already exists" in again.message.lower()
    assert twice is not None
    assert "already exists" in twice.message.lower()
    assert missing is not None
    assert missing.status_code == 404


SLS_WHERE = "AGENTRUN_CONTRACT_SLS"  # <project>/<logstore>: an indexed logstore in the region, on an account


def test_log_configuration_is_kept_and_fc_writes_the_rows_invoke_logs_reads(target, runtime):
    project, _, logstore = (os.environ.get(SLS_WHERE) or "contract-project/contract-logstore").partition("/")
    target.client.update_agent_runtime(runtime, ar.UpdateAgentRuntimeRequest(body=ar.UpdateAgentRuntimeInput(
        log_configuration=ar.LogConfiguration(project=project, logstore=logstore))))
    live = settled_runtime(target, runtime)
    kept = live.log_configuration.to_map() if live.log_configuration else None
    target.observe("logConfiguration read back after update", kept)
    assert kept == {"project": project, "logstore": logstore}  # invoke logs reads where the runtime says
    if target.name != "cloud" or not os.environ.get(SLS_WHERE):
        return  # the emulator writes no SLS rows; on an account the rows answer the questions below
    created = target.client.create_agent_runtime_endpoint(runtime, ar.CreateAgentRuntimeEndpointRequest(
        body=endpoint_input("contract-sls", "LATEST", None))).body.data
    url = settled_endpoint(target, runtime, created.agent_runtime_endpoint_id).endpoint_public_url
    statuses = [_get(url) for _ in range(5)]
    target.observe("data plane GET / answers (X-API-Key from AGENTRUN_API_KEY)", statuses)
    rows = _fc_rows(project, runtime, started=time.time() - 600, budget=240.0)
    topics = sorted({r.get("__topic__", "") for r in rows})
    target.observe("SLS topics of the runtime's rows", topics)
    metrics = [r for r in rows if r.get("__topic__") == fclogs.request_topic(runtime)]
    target.observe("FCRequestMetrics row keys", sorted({k for r in metrics for k in r}))
    target.observe("FCRequestMetrics qualifier and versionId (endpoint contract-sls, LATEST)",
                   sorted({(r.get("qualifier"), r.get("versionId")) for r in metrics}))
    assert metrics, f"no {fclogs.request_topic(runtime)} rows within 4 minutes; topics seen: {topics}"


def _get(url: str) -> int:
    key = os.environ.get("AGENTRUN_API_KEY")
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _fc_rows(project: str, runtime_id: str, *, started: float, budget: float) -> list[dict]:
    """Every row of the logstore that names the runtime's FC function, once SLS has indexed some."""
    region = os.environ.get("AGENTRUN_CONTRACT_REGION", "cn-hangzhou")
    creds = Credentials(Secret(os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"], source="env"),
                        Secret(os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], source="env"), None, None, {})
    client = SlsProject(Connection(f"{region}.log.aliyuncs.com", "https", region, creds), project)
    logstore = os.environ[SLS_WHERE].partition("/")[2]
    deadline = time.monotonic() + budget
    while True:
        rows = _rows_naming(client, logstore, fclogs.function_name(runtime_id), int(started))
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(10)


def _rows_naming(client: SlsProject, logstore: str, name: str, since: int) -> list[dict]:
    from alibabacloud_sls20201230 import models as sls

    request = sls.GetLogsV2Request(from_=since, to=int(time.time()) + 1, line=100, offset=0, query=f'"{name}"')
    body = client.call("contract: read the runtime's rows", lambda c, options: c.get_logs_v2with_options(
        client.project, logstore, request, sls.GetLogsV2Headers(), options))
    return list(body.data or [])
