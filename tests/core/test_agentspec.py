from agentrun_tasks.core.agentspec import (
    needs_update,
    network_configuration,
    runtime_input,
)

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
