"""The release test with driver: serverless-devs: real invoke processes run the real `s`, whose
agentrun component (the test stand-in in an isolated s home) forwards every command to the
emulator as the devsapp component would call the cloud."""

from __future__ import annotations

import json
import os

import pytest

from agentrun_tasks.testing import s_component
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.project import chat, clean_environ


@pytest.mark.timeout(1800)  # about 65 s calls, each a node process
def test_deploy_and_a_canary_release_through_s(project, tmp_path, s_reference):
    binary = s_reference.binary
    record = tmp_path / "calls.jsonl"
    with running_emulator(project.root) as emu, s_component.answering() as url:
        s_component.install(tmp_path / "s-home", url, record=record, forward={"endpoint": emu.endpoint})
        local = (project.root / "envs" / "local.yaml").read_text()
        (project.root / "envs" / "sdev.yaml").write_text(
            local.replace("emulator: true", f"driver: serverless-devs\ncontrol_endpoint: {emu.endpoint}\nprotocol: http")
            .replace("steps: [0.1, 0.5, 1.0]", "steps: [0.25, 1.0]").replace("interval: 10s", "interval: 2s"))
        environ = clean_environ(PATH=f"{binary.parent}{os.pathsep}{os.environ['PATH']}", NODE_ENV="test",
                                serverless_devs_config_home=str(tmp_path / "s-home"),
                                ALIYUN_ACCESS_KEY_ID_SDEV=emu.access_key_id,
                                ALIYUN_ACCESS_KEY_SECRET_SDEV=emu.access_key_secret.reveal(),
                                ALIYUN_ACCOUNT_ID_SDEV=emu.account_id)
        first = project.invoke("release", "--env", "sdev", "--json", env=environ, timeout=600)
        assert first.returncode == 0, first.stderr + first.stdout
        assert json.loads(first.stdout)["result"] == "first-release"
        project.set_greeting("Hello from version 2")
        second = project.invoke("release", "--env", "sdev", env=environ, timeout=600)
        assert second.returncode == 0, second.stderr + second.stdout
        assert "step 25%" in second.stdout
        assert "promoted version 2 to 100%" in second.stdout
        endpoint = project.invoke_json("endpoint.get", "--env", "sdev", env=environ, timeout=300)
        assert endpoint["targetVersion"] == "2"
        assert endpoint["weights"] == {}
        _, headers, _body = chat(endpoint["url"])
        assert headers["x-agentrun-version"] == "2"
        secret = emu.access_key_secret.reveal()
    calls = s_component.recorded(record)
    commands = {c["command"] + (" " + c["args"][0] if c["command"] in ("version", "endpoint") else "") for c in calls}
    assert {"deploy", "info", "version publish", "endpoint publish", "endpoint get"} <= commands
    publishes = [c["args"] for c in calls if c["command"] == "endpoint" and c["args"][0] == "publish"]
    assert any("--canary-version" in args and "0.25" in args for args in publishes)
    assert all(c["credential"]["AccessKeySecret"] == secret and secret not in json.dumps(c["args"]) for c in calls)
    for proc in (first, second):
        assert secret not in proc.stdout + proc.stderr
