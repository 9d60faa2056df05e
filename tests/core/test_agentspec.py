import pytest

from agentrun_tasks.core.agentspec import (
    cleared,
    needs_account_id,
    needs_update,
    network_configuration,
    runtime_input,
)
from agentrun_tasks.core.errors import ConfigError

AGENT = {
    "name": "demo", "description": "d", "cpu": 0.5, "memory": 1024, "port": 9000, "instanceConcurrency": 10,
    "code": {"src": "./code", "language": "python3.12", "command": ["python3", "app.py"]},
    "environmentVariables": {"A": "1"}, "role": "agent-role", "logConfig": {"project": "p", "logstore": "l"},
}


def test_runtime_input_uses_the_component_field_mapping():
    body = runtime_input(AGENT, account_id="1234567890123456", code={"zipFile": "UEs=", "checksum": "42"})
    assert body["agentRuntimeName"] == "demo"
    assert body["sessionConcurrencyLimitPerInstance"] == 10
    assert body["artifactType"] == "Code"
    assert body["codeConfiguration"] == {"language": "python3.12", "command": ["python3", "app.py"],
                                         "zipFile": "UEs=", "checksum": "42"}
    assert body["executionRoleArn"] == "acs:ram::1234567890123456:role/agent-role"
    assert body["logConfiguration"] == {"project": "p", "logstore": "l"}
    assert body["networkConfiguration"] == {"networkMode": "PUBLIC"}


def test_logconfig_auto_names_the_components_project_and_logstore():
    agent = {"name": "demo", "code": {"src": "code"}, "logConfig": "auto"}
    body = runtime_input(agent, account_id="123", region="cn-shanghai", code={"checksum": "1"})
    assert body["logConfiguration"] == {"project": "aliyun-serverless-123-cn-shanghai", "logstore": "default-logs"}


def test_a_short_role_or_logconfig_auto_needs_the_account_id():
    assert needs_account_id({"role": "r"})
    assert needs_account_id({"logConfig": "auto"})
    assert not needs_account_id({"role": "acs:ram::1:role/r", "logConfig": {"project": "p", "logstore": "l"}})
    for agent in ({"name": "d", "role": "r"}, {"name": "d", "logConfig": "auto"}):
        with pytest.raises(ConfigError, match=r"credentials.account_id"):
            runtime_input(agent, account_id=None, region="cn-hangzhou", code={"checksum": "1"})


def test_container_agents_send_container_configuration():
    body = runtime_input({"name": "c", "customContainerConfig": {"image": "registry/x:1", "port": 8080}},
                         account_id=None, code=None)
    assert body["artifactType"] == "Container"
    assert "codeConfiguration" not in body


def test_network_mode_follows_vpc_and_internet_access():
    vpc = {"vpcId": "vpc-1", "vSwitchIds": "vsw-1", "securityGroupId": "sg-1"}
    assert network_configuration({"vpcConfig": vpc})["networkMode"] == "PUBLIC_AND_PRIVATE"
    assert network_configuration({"vpcConfig": vpc, "internetAccess": False})["vswitchIds"] == ["vsw-1"]
    assert network_configuration({"internetAccess": False}) == {"networkMode": "PRIVATE"}


def test_needs_update_compares_by_checksum_not_zip_bytes():
    wanted = runtime_input(AGENT, account_id="1", code={"zipFile": "AAAA", "checksum": "42"})
    live = dict(wanted)
    live["codeConfiguration"] = {k: v for k, v in wanted["codeConfiguration"].items() if k != "zipFile"}
    live["cpu"] = 0.5
    assert needs_update(live, wanted) == []
    live["codeConfiguration"] = dict(live["codeConfiguration"], checksum="43")
    live["memory"] = 2048
    assert needs_update(live, wanted) == ["memory", "codeConfiguration"]


def live_of(wanted: dict) -> dict:
    """What GET shows after deploying ``wanted``: the same fields, the code without its zip."""
    live = dict(wanted)
    live["codeConfiguration"] = {k: v for k, v in wanted["codeConfiguration"].items() if k != "zipFile"}
    return live


def test_a_removed_environment_variable_is_a_change_and_the_update_sends_the_smaller_map():
    live = live_of(runtime_input(dict(AGENT, environmentVariables={"A": "1", "AGENT_FAULT_RATE": "0.5"}),
                                 account_id="1", code={"checksum": "42"}))
    wanted = runtime_input(AGENT, account_id="1", code={"checksum": "42"})
    assert needs_update(live, wanted) == ["environmentVariables"]
    assert wanted["environmentVariables"] == {"A": "1"}


def test_a_removed_block_or_optional_field_is_cleared_with_an_empty_value():
    live = live_of(runtime_input(dict(AGENT, credentialName="cred", enableSessionIsolation=True),
                                 account_id="1", code={"checksum": "42"}))
    agent = {k: v for k, v in AGENT.items() if k not in ("environmentVariables", "role", "logConfig",
                                                         "description")}
    wanted = runtime_input(agent, account_id="1", code={"checksum": "42"})
    assert cleared(live, wanted) == {"credentialName": "", "description": "", "enableSessionIsolation": False,
                                     "environmentVariables": {}, "executionRoleArn": "", "logConfiguration": {}}
    assert sorted(needs_update(live, wanted)) == sorted(cleared(live, wanted))
    # Once cleared (the platform shows empty values), nothing is left to change.
    assert needs_update({**live, **cleared(live, wanted)}, wanted) == []
    assert cleared(live_of(wanted), wanted) == {}


def test_fields_the_platform_fills_in_itself_are_not_changes():
    wanted = runtime_input(AGENT, account_id="1", code={"checksum": "42"})
    live = {**live_of(wanted), "workspaceId": "ws-default", "protocolConfiguration": {"type": "HTTP"},
            "healthCheckConfiguration": {"httpGetUrl": "/ready"}}
    assert needs_update(live, wanted) == []
    assert cleared(live, wanted) == {}
