"""invoke logs on the embedded emulator (its request log and the agents' output) and on a cloud
environment (the runtime's SLS logstore): redacted, failures only with --errors."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error

from alibabacloud_agentrun20250910 import models as ar
from alibabacloud_agentrun20250910.client import Client

from agentrun_tasks.core import fclogs
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.project import chat, clean_environ, cloud_env_file
from agentrun_tasks.testing.sls import local_sls

SENTINEL = "SENTINELlogsecret00000000000001"


def test_logs_show_requests_and_agent_output_with_secrets_redacted(project):
    project.configure_release(agent_env={"MODEL_API_KEY": "${env('MODEL_API_KEY')}"})
    app = project.root / "code" / "app.py"
    app.write_text("import os\nprint('model key', os.environ.get('MODEL_API_KEY'), flush=True)\n" + app.read_text())
    env = clean_environ(MODEL_API_KEY=SENTINEL)
    deployed = project.invoke("deploy", "--json", env=env)
    assert deployed.returncode == 0, deployed.stderr
    url = json.loads(deployed.stdout)["url"]
    assert chat(url, "hi")[0] == 200
    with contextlib.suppress(urllib.error.HTTPError):  # a request that fails, for --errors
        chat(url.replace("/endpoints/", "/endpoints/nosuch-"), "hi")

    shown = project.invoke("logs", "--since", "10m", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "HTTP 200" in shown.stdout
    assert "[version LATEST] model key" in shown.stdout
    assert SENTINEL not in shown.stdout + shown.stderr  # the agent printed it; the task never shows it
    document = json.loads(project.invoke("logs", "--json", env=env).stdout)
    assert {r["status"] for r in document["requests"]} >= {200}
    assert document["output"]
    errors = project.invoke("logs", "--errors", env=env)
    assert errors.returncode == 0
    assert "HTTP 200" not in errors.stdout
    assert "model key" not in errors.stdout


def test_logs_refuse_bad_input(project):
    assert project.invoke("logs", "--since", "99999999d").returncode == 2
    assert project.invoke("logs", "--version", "abc").returncode == 2


def cloud_env(port: int, log: str) -> str:
    return cloud_env_file(port, "logs-cloud", agent="  environmentVariables: {MODEL_API_KEY: \"${env('MODEL_API_KEY')}\"}\n"
                          + log)


def _rows(runtime_id: str, now: int) -> list[dict]:
    def metrics(i: int, status: int) -> dict:
        return {"__topic__": fclogs.request_topic(runtime_id), "__time__": now - 60 + i, "qualifier": "prod",
                "versionId": "1", "statusCode": status, "durationMs": 40 + i, "hasFunctionError": "false",
                "requestId": f"1-{i}", "invocationStartTimestamp": (now - 60 + i) * 1000}

    def printed(i: int, message: str) -> dict:
        return {"__topic__": fclogs.output_topic(runtime_id), "__time__": now - 50 + i, "versionId": "1",
                "instanceID": "c-1", "message": message}

    return [metrics(0, 200), metrics(1, 503), printed(0, "FC Invoke Start RequestId: 1-1"),
            printed(1, f"model key {SENTINEL}"), printed(2, "Traceback (most recent call last): boom")]


def test_logs_on_a_cloud_environment_read_the_runtimes_sls_logstore(project):
    with running_emulator(project.root / ".cloud") as cloud:
        log = "  logConfig: {project: agent-logs, logstore: runtime}\n"
        (project.root / "envs" / "cloud.yaml").write_text(cloud_env(cloud.port, log))
        (project.root / "envs" / "nolog.yaml").write_text(cloud_env(cloud.port, ""))
        secret = cloud.access_key_secret.reveal()
        keys = {f"ALIYUN_ACCESS_KEY_{k}_{e}": v for e in ("CLOUD", "NOLOG")
                for k, v in (("ID", cloud.access_key_id), ("SECRET", secret))}
        env = clean_environ(MODEL_API_KEY=SENTINEL, **keys)
        deployed = project.invoke("deploy", "--env", "cloud", "--json", env=env)
        assert deployed.returncode == 0, deployed.stderr
        runtime_id = json.loads(project.invoke("info", "--env", "cloud", "--json", env=env).stdout)["runtime"]["id"]

        with local_sls({cloud.access_key_id: secret}) as sls:
            env.update(sls.proxy_env())
            missing = json.loads(project.invoke("doctor", "--env", "cloud", "--json", env=env).stdout)["checks"]
            assert next(c["detail"] for c in missing if c["check"] == "logs" and c["status"] == "fail").endswith(
                "does not exist (ProjectNotExist). Check agent.logConfig in the env file and the region (sls_endpoint).")
            sls.put("agent-logs", "runtime", _rows(runtime_id, int(time.time())))
            shown = project.invoke("logs", "--env", "cloud", "--since", "10m", env=env)
            assert shown.returncode == 0, shown.stderr
            lines = shown.stdout.splitlines()
            assert [line.split("  ")[1:4] for line in lines[:2]] == [["prod", "version 1", "HTTP 200"],
                                                                     ["prod", "version 1", "HTTP 503"]]
            assert "[version 1] model key" in shown.stdout
            assert "FC Invoke" not in shown.stdout
            assert SENTINEL not in shown.stdout + shown.stderr
            assert secret not in shown.stdout + shown.stderr
            errors = project.invoke("logs", "--env", "cloud", "--errors", "--json", env=env)
            document = json.loads(errors.stdout)
            assert [r["status"] for r in document["requests"]] == [503]
            assert [b["lines"] for b in document["output"]] == [["Traceback (most recent call last): boom"]]
            other = json.loads(project.invoke("logs", "--env", "cloud", "--version", "2", "--json", env=env).stdout)
            assert other["requests"] == []
            assert other["output"] == []
            assert sls.calls
            assert {c["project"] for c in sls.calls} == {"agent-logs"}
            checks = json.loads(project.invoke("doctor", "--env", "cloud", "--json", env=env).stdout)["checks"]
            assert {c["check"]: c["status"] for c in checks}["logs"] == "ok"

            project.invoke("deploy", "--env", "nolog", env=env)
            nolog = project.invoke("logs", "--env", "nolog", env=env)
            assert nolog.returncode == 2
            assert "keeps no logs" in nolog.stderr
            assert "Traceback" not in nolog.stderr
            checks = json.loads(project.invoke("doctor", "--env", "nolog", "--json", env=env).stdout)["checks"]
            assert {c["check"]: c["status"] for c in checks}["logs"] == "warn"

            # A runtime that does not say where it logs (as `s info` never does) and logConfig: auto:
            # the logs are where the component puts auto, named by the account STS reports.
            (project.root / "envs" / "nolog.yaml").write_text(cloud_env(cloud.port, "  logConfig: auto\n"))
            nolog_id = json.loads(project.invoke("info", "--env", "nolog", "--json", env=env).stdout)["runtime"]["id"]
            sls.put(f"aliyun-serverless-{cloud.account_id}-cn-hangzhou", "default-logs", _rows(nolog_id, int(time.time())))
            auto = json.loads(project.invoke("logs", "--env", "nolog", "--json", env=env).stdout)
            assert [r["status"] for r in auto["requests"]] == [200, 503]


def test_logconfig_auto_makes_the_components_logstore_once_and_logs_read_it(project):
    with running_emulator(project.root / ".cloud") as cloud:
        (project.root / "envs" / "auto.yaml").write_text(
            cloud_env(cloud.port, "  logConfig: auto\n  role: agent-role\n"))
        env = clean_environ(MODEL_API_KEY=SENTINEL, ALIYUN_ACCESS_KEY_ID_AUTO=cloud.access_key_id,
                            ALIYUN_ACCESS_KEY_SECRET_AUTO=cloud.access_key_secret.reveal())
        with local_sls({cloud.access_key_id: cloud.access_key_secret.reveal()}) as sls:
            env.update(sls.proxy_env())  # the control plane is reached through it too, as behind a proxy
            deployed = project.invoke("deploy", "--env", "auto", "--json", env=env)
            assert deployed.returncode == 0, deployed.stderr
            made = f"aliyun-serverless-{cloud.account_id}-cn-hangzhou"  # no account id configured: STS said
            assert [(c["action"], c["project"]) for c in sls.calls] == [
                ("CreateProject", made), ("CreateLogStore", made), ("CreateIndex", made)]
            assert sls.calls[1]["body"]["logstoreName"] == "default-logs"

            runtime_id = json.loads(project.invoke("info", "--env", "auto", "--json", env=env).stdout)["runtime"]["id"]
            live = Client(cloud.openapi_config()).get_agent_runtime(runtime_id, ar.GetAgentRuntimeRequest()).body.data
            assert live.log_configuration.to_map() == {"project": made, "logstore": "default-logs"}
            assert live.execution_role_arn == f"acs:ram::{cloud.account_id}:role/agent-role"

            again = project.invoke("deploy", "--env", "auto", env=env)
            assert again.returncode == 0
            assert len(sls.calls) == 3
            sls.put(made, "default-logs", _rows(runtime_id, int(time.time())))
            document = json.loads(project.invoke("logs", "--env", "auto", "--json", env=env).stdout)
            assert [r["status"] for r in document["requests"]] == [200, 503]
