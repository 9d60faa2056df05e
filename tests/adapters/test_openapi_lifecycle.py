"""The driver survives AgentRun's real lifecycle (issue 8): against the strict emulator with
scaled-down cloud latencies, and with the SDK's own exception classes for the classification.
Each test fails on the driver before it: that one health-checked an empty URL, treated a write
refused during a runtime update as bad input, created twice after a lost answer, looped on
float32 weights and trusted a split to be cleared."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from test_openapi import driver_for, runtime_spec, wait_ready

from agentrun_tasks.adapters.openapi_errors import AlreadyExists, NotReady, translate
from agentrun_tasks.core.errors import ResourceFailedError, TransientError
from agentrun_tasks.core.resources import Endpoint, same_weights
from agentrun_tasks.core.retry import RetryPolicy
from agentrun_tasks.flows.deploy import remove_runtime

RETRY = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, total=20.0)
pytestmark = pytest.mark.usefixtures("restore_emu_faults")  # one emulator for the module: `emu`


@pytest.fixture(scope="module")
def runtime(emu):
    driver = driver_for(emu, RETRY)
    runtime = wait_ready(driver, driver.create_runtime(runtime_spec("cycle")).id)
    for _ in range(2):
        driver.publish_version(runtime.id, "v")
    return runtime


class Counting:
    """The real SDK client, counting the calls of each method."""

    def __init__(self, client) -> None:
        self._client, self.calls = client, {}

    def __getattr__(self, name):
        real = getattr(self._client, name)

        def call(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return real(*args, **kwargs)
        return call


@pytest.mark.parametrize(("status", "cls"), [(400, ClientException), (409, ClientException), (500, ServerException)])
def test_already_exists_is_classified_on_the_message_whatever_the_status(status, cls):
    exc = cls(status_code=status, code="ERR_X", message=f"code: {status}, AgentRuntime x already exists.")
    assert isinstance(translate(exc, "create"), AlreadyExists)


def test_a_400_for_a_runtime_that_is_not_ready_means_busy_not_bad_input():
    exc = ClientException(status_code=400, code="ERR_VALIDATION_FAILED",
                          message="AgentRuntime x is UPDATING: the operation requires status READY")
    assert isinstance(translate(exc, "update endpoint"), NotReady)


def test_throttling_carries_the_servers_retry_after_in_seconds():
    error = translate(ThrottlingException(status_code=429, code="Throttling", message="slow", retry_after=1500), "x")
    assert isinstance(error, TransientError)
    assert error.throttled
    assert error.retry_after == 1.5


def test_throttled_calls_are_retried_for_the_time_budget_not_the_attempts():
    calls = []

    def throttled():
        calls.append(time.monotonic())
        if len(calls) < 10:
            error = TransientError("throttled")
            error.throttled, error.retry_after = True, 0.05
            raise error
        return "done"

    assert RetryPolicy(attempts=3, initial=0.001, maximum=0.002, total=10).call(throttled) == "done"
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert len(calls) == 10
    assert min(gaps) >= 0.05


def test_a_server_error_still_stops_at_the_attempts():
    calls = []

    def failing():
        calls.append(1)
        raise TransientError("503")

    with pytest.raises(TransientError):
        RetryPolicy(attempts=3, initial=0.001, maximum=0.002, total=10).call(failing)
    assert len(calls) == 3


def test_put_endpoint_returns_it_ready_with_its_url_and_skips_a_write_that_changes_nothing(emu, runtime):
    emu.set_faults(latency=0.2)
    driver = driver_for(emu, RETRY)
    driver._client = counting = Counting(driver.client)
    created = driver.put_endpoint(runtime.id, "waited", target_version="1", weights={"2": 0.35})
    assert (created.status, created.url) == ("READY", f"{emu.url}/agent-runtimes/cycle/endpoints/waited/invocations")
    assert created.weights == {"2": 0.35}  # float32 0.3499999940395355, read as written
    again = driver.put_endpoint(runtime.id, "waited", target_version="1", weights={"2": 0.35})
    assert again.id == created.id
    assert counting.calls.get("update_agent_runtime_endpoint", 0) == 0
    assert counting.calls["create_agent_runtime_endpoint"] == 1


def test_placeholder_entries_are_no_split():
    endpoint = Endpoint.from_wire({"targetVersion": "1", "status": "READY", "routingConfiguration": {
        "versionWeights": [{"version": "", "weight": 0}]}})
    assert endpoint.weights == {}
    assert endpoint.routes_like("1", {})
    assert same_weights({"2": 0.3499999940395355}, {"2": 0.35})
    assert not same_weights({"2": 0.34}, {"2": 0.35})


def test_an_endpoint_write_during_a_runtime_update_waits_and_gets_through(emu, runtime):
    driver = driver_for(emu, RETRY)
    driver.put_endpoint(runtime.id, "rollback", target_version="1", weights={"2": 0.5})
    emu.set_faults(latency=0.3)  # the update stays UPDATING ~0.9 s after its process is up
    updating = driver.update_runtime(runtime.id, {"description": "a deploy in flight"})
    assert updating.status == "UPDATING"
    endpoint = driver.put_endpoint(runtime.id, "rollback", target_version="1", weights={})
    assert endpoint.weights == {}
    assert endpoint.status == "READY"
    assert driver.get_runtime(runtime.id).status == "READY"


def test_a_publish_whose_answer_is_lost_is_not_published_twice(emu, runtime):
    driver = driver_for(emu, RETRY)
    before = len(driver.list_versions(runtime.id))
    emu.set_faults(lose_answer=1.0)  # every write is done, and its answer lost
    version = driver.publish_version(runtime.id, "lost answer")
    emu.set_faults(lose_answer=0.0)
    versions = driver.list_versions(runtime.id)
    assert len(versions) == before + 1
    assert versions[-1].version == version.version
    assert version.description == "lost answer"


def test_a_split_the_platform_does_not_clear_is_exit_5(emu, runtime):
    driver = driver_for(emu, RETRY)
    driver.put_endpoint(runtime.id, "sticky", target_version="1", weights={"2": 0.25})
    emu.set_faults(sticky_split=1)
    with pytest.raises(ResourceFailedError, match="did not apply") as failed:
        driver.put_endpoint(runtime.id, "sticky", target_version="1", weights={})
    assert failed.value.exit_code == 5


def test_an_update_whose_answer_echoes_the_old_status_is_read_again(emu, runtime):
    driver = driver_for(emu, RETRY)
    emu.set_faults(stale_update_status=1, latency=0.2)
    assert driver.update_runtime(runtime.id, {"description": "echo"}).status == "UPDATING"
    wait_ready(driver, runtime.id)


def test_remove_waits_until_the_endpoints_are_gone(emu):
    driver = driver_for(emu, RETRY)
    doomed = wait_ready(driver, driver.create_runtime(runtime_spec("doomed")).id)
    driver.put_endpoint(doomed.id, "a", target_version="LATEST")
    emu.set_faults(latency=0.3)
    assert remove_runtime(driver, "doomed") == ["endpoint a", "runtime doomed"]
    assert driver.find_runtime("doomed") is None


def test_a_rollback_issued_while_another_thread_updates_the_runtime_lands(emu, runtime):
    driver = driver_for(emu, RETRY)
    driver.put_endpoint(runtime.id, "race", target_version="1", weights={"2": 0.5})
    emu.set_faults(latency=0.3)
    deploy = threading.Thread(target=lambda: wait_ready(driver_for(emu, RETRY), driver_for(emu, RETRY).update_runtime(
        runtime.id, {"description": "deploying"}).id))
    deploy.start()
    time.sleep(0.1)
    rolled = driver.put_endpoint(runtime.id, "race", target_version="1", weights={})
    deploy.join(30)
    assert rolled.traffic() == {"1": 1.0}
    assert driver.find_endpoint(runtime.id, "race").traffic() == {"1": 1.0}


def test_a_workspace_object_is_resolved_to_its_id_and_scopes_runtime_lookups(emu):
    from alibabacloud_agentrun20250910 import models as m

    from agentrun_tasks.core.errors import NotFoundError

    plain = driver_for(emu, RETRY)
    team = plain.client.create_workspace(m.CreateWorkspaceRequest(
        body=m.CreateWorkspaceInput(name="team"))).body.data.workspace_id
    wait_ready(plain, plain.create_runtime(runtime_spec("in-default")).id)
    scoped = driver_for(emu, RETRY)
    scoped.workspace = {"name": "team"}
    assert scoped.find_runtime("in-default") is None  # another workspace's runtime is not ours
    created = scoped.create_runtime({**runtime_spec("in-team"), "workspaceId": {"name": "team"}})
    assert created.raw["workspaceId"] == team
    assert scoped.workspace_id() == team
    assert scoped.find_runtime("in-team").id == created.id
    wait_ready(scoped, created.id)
    with pytest.raises(NotFoundError, match="workspace 'nope'"):
        scoped.workspace_id({"name": "nope"})
