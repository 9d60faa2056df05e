"""invoke logs on the embedded emulator: the request log and the agent's output, redacted,
failures only with --errors; a cloud environment says where its logs are (exit 2)."""

from __future__ import annotations

import json
import urllib.error

from agentrun_tasks.testing.project import chat, clean_environ

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
    try:
        chat(url.replace("/endpoints/", "/endpoints/nosuch-") , "hi")
    except urllib.error.HTTPError:
        pass  # a request that fails, for --errors

    shown = project.invoke("logs", "--since", "10m", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "HTTP 200" in shown.stdout and "[version LATEST] model key" in shown.stdout
    assert SENTINEL not in shown.stdout + shown.stderr  # the agent printed it; the task never shows it
    document = json.loads(project.invoke("logs", "--json", env=env).stdout)
    assert {r["status"] for r in document["requests"]} >= {200} and document["output"]
    errors = project.invoke("logs", "--errors", env=env)
    assert errors.returncode == 0 and "HTTP 200" not in errors.stdout and "model key" not in errors.stdout


def test_logs_refuse_bad_input_and_say_where_cloud_logs_are(project):
    assert project.invoke("logs", "--since", "99999999d").returncode == 2
    assert project.invoke("logs", "--version", "abc").returncode == 2
    cloud = project.invoke("logs", "--env", "prod")
    assert cloud.returncode == 2 and "SLS" in cloud.stderr and "Traceback" not in cloud.stderr
