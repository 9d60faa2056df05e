"""The serverless-devs driver through the real ``s`` (3.1.10) and a test component in an isolated
``s`` home (the component cache with its ``.s.lock``: nothing is downloaded). The component
records what ``s`` hands it and replays outputs of the documented shapes (tests/fixtures/s)."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agentrun_tasks.adapters import s_cli
from agentrun_tasks.adapters.serverless_devs import ServerlessDevsDriver
from agentrun_tasks.core.credentials import Credentials
from agentrun_tasks.core.errors import CredentialError, NotFoundError, ResourceFailedError, TransientError
from agentrun_tasks.core.model import EnvConfig
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.testing import s_component

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "s"
KEY_ID, SECRET, TOKEN, MODEL_KEY = "LTAIFAKESENTINELkeyid0001", "SENTINEL-secret-0xC0FFEE", "SENTINEL-sts-token", "sk-SENTINEL-m"
FAST = {"attempts": 3, "initial": 0.01, "maximum": 0.02, "total": 30}


def contains(args: list, run: list) -> bool:
    return any(args[i:i + len(run)] == run for i in range(len(args)))


def shape(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def rig(tmp_path, s_reference):
    with s_component.answering() as url:
        yield _rig(tmp_path, s_reference, url)


def _rig(tmp_path, s_reference, url):
    """A project root, an isolated s home and ``make(replay, token=None)`` -> (driver, calls)."""
    home, root = tmp_path / "home", tmp_path / "project"
    (root / "envs").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "code" / "app.py").write_text("print('hi')\n")
    record = tmp_path / "calls.jsonl"
    environ = {"PATH": f"{s_reference.binary.parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(home),
               "serverless_devs_config_home": str(home), "NODE_ENV": "test", "GITHUB_TOKEN": "ghp_SENTINEL"}
    env = EnvConfig(name="dev", path=root / "envs" / "dev.yaml", region="cn-hangzhou", driver="serverless-devs",
                    agent={"name": "bot", "code": {"src": "code", "language": "python3.12", "command": ["python3", "app.py"]},
                           "cpu": 0.5, "memory": 1024, "port": 9000, "environmentVariables": {"MODEL_API_KEY": MODEL_KEY}},
                    retry=FAST)

    def make(replay: dict | None, *, token: str | None = None, forward: dict | None = None):
        s_component.install(home, url, record=record, replay=replay, forward=forward)
        creds = Credentials(Secret(KEY_ID), Secret(SECRET), Secret(TOKEN) if token else None, "1234", sources={})
        driver = ServerlessDevsDriver.open(env, root, environ, creds, identity=None)
        return driver, lambda: s_component.recorded(record)

    make.root, make.home = root, home
    return make


def test_reads_run_with_o_json_silent_and_credentials_only_in_the_environment(rig):
    driver, calls = rig({"info": [{"output": shape("info")}]})
    runtime = driver.find_runtime("bot")
    assert (runtime.id, runtime.name, runtime.status, runtime.updated_at) == (
        "ar-1a2b", "bot", "READY", "2026-01-02T00:00:00Z")
    [call] = calls()
    assert call["command"] == "info"
    assert contains(call["args"], ["-o", "json", "--silent"])
    assert call["credential"] == {"AccountID": "1234", "AccessKeyID": KEY_ID, "AccessKeySecret": SECRET}
    assert call["props"]["region"] == "cn-hangzhou"
    assert call["props"]["agent"]["name"] == "bot"
    assert call["props"]["agent"]["code"]["src"] == str(rig.root / "code")
    assert SECRET not in json.dumps(call["args"])
    assert KEY_ID not in json.dumps(call["args"])
    template = rig.root / ".agentrun" / "s" / "dev" / "s.yaml"
    assert stat.S_IMODE(template.stat().st_mode) == 0o600  # it holds the agent's environment variables
    assert json.loads(template.read_text())["resources"]["agent"]["component"] == "agentrun@1.0.12"
    endpoints = driver.list_endpoints(runtime.id)
    assert [(e.name, e.target_version, dict(e.weights)) for e in endpoints] == [("prod", "1", {"2": 0.05})]


def test_an_sts_token_goes_through_the_serverless_devs_key_variable(rig):
    driver, calls = rig({"version list": [{"output": shape("version-list")}]}, token=TOKEN)
    assert [v.version for v in driver.list_versions("ar-1a2b")] == ["1", "2"]
    [call] = calls()
    assert call["credential"]["SecurityToken"] == TOKEN
    assert call["credential"]["AccessKeySecret"] == SECRET
    assert s_cli.KEY_ALIAS in call["args"]
    assert TOKEN not in json.dumps(call["args"])


def test_child_environment_is_an_allow_list_with_the_credentials():
    creds = Credentials(Secret(KEY_ID), Secret(SECRET), None, "1234", sources={})
    parent = {"PATH": "/bin", "GITHUB_TOKEN": "ghp_x", "ALIBABA_CLOUD_ACCESS_KEY_ID": "other", "AccessKeyID": "stale",
              "x_serverless_devs_key": "{}", "HTTPS_PROXY": "http://proxy", "GITHUB_ACTIONS": "true"}
    env, extra = s_cli.child_environ(parent, creds)
    assert extra == []
    assert env == {"PATH": "/bin", "HTTPS_PROXY": "http://proxy", "AccountID": "1234", "AccessKeyID": KEY_ID,
                   "AccessKeySecret": SECRET}


def test_a_missing_runtime_is_none_learned_from_the_same_read_without_o(rig):
    driver, calls = rig({"info": [{"error": "agent runtime bot not found"}]})
    assert driver.find_runtime("bot") is None
    first, second = calls()  # under -o the failure exits 0 with no output, so it is read again without -o
    assert "-o" in first["args"]
    assert "-o" not in second["args"]


def test_endpoint_publish_uses_canary_version_with_weight_and_no_o(rig):
    driver, calls = rig({"endpoint publish": [{"output": shape("endpoint-publish")}],
                         "endpoint get": [{"output": shape("endpoint-get")}]})
    endpoint = driver.put_endpoint("ar-1a2b", "prod", target_version="1", weights={"2": 0.05}, description="canary")
    assert (endpoint.id, endpoint.target_version, dict(endpoint.weights)) == ("ep-1", "1", {"2": 0.05})
    publish, get = calls()
    assert publish["args"][:11] == ["publish", "--endpoint-name", "prod", "--target-version", "1",
                                    "--canary-version", "2", "--weight", "0.05", "--description", "canary"]
    assert "-o" not in publish["args"]
    assert get["args"][:3] == ["get", "--endpoint-name", "prod"]


def test_a_publish_without_canary_clears_a_split_the_platform_kept(rig):
    cleared = {**shape("endpoint-get"), "targetVersion": "2", "routingConfig": {"versionWeights": [
        {"version": "2", "weight": 0}]}}
    driver, calls = rig({"endpoint publish": [{"output": shape("endpoint-publish")}],
                         "endpoint get": [{"output": shape("endpoint-get")}, {"output": cleared}]})
    endpoint = driver.put_endpoint("ar-1a2b", "prod", target_version="2")
    assert endpoint.target_version == "2"
    assert dict(endpoint.weights) == {}
    publishes = [c["args"] for c in calls() if c["args"][0] == "publish"]
    assert "--canary-version" not in publishes[0]
    assert publishes[1][5:9] == ["--canary-version", "2", "--weight", "0"]


def test_a_failing_mutation_keeps_exit_101_its_stdout_message_and_is_not_retried(rig):
    driver, calls = rig({"endpoint publish": [{"error": "targetVersion 9 is not a published version of bot"}]})
    with pytest.raises(ResourceFailedError) as failure:
        driver.put_endpoint("ar-1a2b", "prod", target_version="9")
    assert "exit 101" in str(failure.value)
    assert "targetVersion 9 is not a published version" in str(failure.value)
    assert len(calls()) == 1
    assert SECRET not in str(failure.value)


def test_empty_json_from_a_read_is_a_failure(rig):
    driver, _ = rig({"version list": [{"output": None}]})
    with pytest.raises(ResourceFailedError, match="printed no JSON and no error"):
        driver.list_versions("ar-1a2b")


def test_throttling_is_retried_then_succeeds(rig):
    driver, calls = rig({"version list": [{"error": "Throttling.User: Request was denied due to user flow control"},
                                          {"error": "ServiceUnavailable: try later"},
                                          {"output": shape("version-list")}]})
    assert len(driver.list_versions("ar-1a2b")) == 2
    # the -o read fails silently (exit 0, no output); the same read without -o then gets the second
    # answer (exit 101, transient); the retry's -o read gets the versions
    assert ["-o" in call["args"] for call in calls()] == [True, False, True]


def test_rejected_credentials_fail_at_once_with_exit_3(rig):
    driver, calls = rig({"info": [{"error": "InvalidAccessKeyId.NotFound: Specified access key is not found."}]})
    with pytest.raises(CredentialError) as failure:
        driver.find_runtime("bot")
    assert failure.value.exit_code == 3
    assert len(calls()) == 2


def test_an_uncached_component_is_a_registry_failure_retried_then_reported(rig):
    driver, calls = rig({})
    lock = s_component.component_dir(rig.home) / ".s.lock"
    lock.unlink()  # s now asks the registry for agentrun@1.0.12, which this machine cannot reach
    with pytest.raises(TransientError) as failure:
        driver.delete_runtime("ar-1a2b")
    assert "exit 1" in str(failure.value)
    assert "registry or network" in str(failure.value)
    assert failure.value.exit_code == 5
    assert calls() == []


def test_logs_take_iso_times_and_the_failure_filter(rig):
    driver, calls = rig({"logs": [{"output": []}]})
    start = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    assert driver.logs(start, start.replace(minute=5), failed_only=True) == []
    args = calls()[0]["args"]
    assert args[:6] == ["--start-time", "2026-03-01T08:00:00Z", "--end-time", "2026-03-01T08:05:00Z", "--type", "fail"]


def test_deploy_hands_s_the_built_package_and_waits_for_info(rig, tmp_path):
    import base64
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("app.py", "print('built')\n")
    driver, calls = rig({"deploy": [{"output": shape("info")}], "info": [{"output": shape("info")}]})
    spec = {"agentRuntimeName": "bot", "codeConfiguration": {
        "zipFile": base64.b64encode(buffer.getvalue()).decode(), "language": "python3.12", "command": ["python3", "app.py"]}}
    assert driver.create_runtime(spec).status == "READY"
    deploy, _info = calls()
    assert deploy["command"] == "deploy"
    assert "--assume-yes" in deploy["args"]
    assert "-o" not in deploy["args"]
    src = Path(deploy["props"]["agent"]["code"]["src"])
    assert (src / "app.py").read_text() == "print('built')\n"
    assert deploy["props"]["agent"]["environmentVariables"]["MODEL_API_KEY"] == MODEL_KEY
    with pytest.raises(NotFoundError.__mro__[1]):  # ConfigError: another agent's name
        driver.find_runtime("other")
