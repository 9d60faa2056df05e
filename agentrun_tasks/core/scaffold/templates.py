"""The files ``agentrun-tasks init`` writes word for word: the project's ``tasks.py``, the example
agent, its ``pyproject.toml`` and its day-one test."""

TASKS_PY = '''"""This project's tasks: `invoke --list` shows them, `invoke deploy` runs the main job."""

from agentrun_tasks.cli import exit_2_on_usage_errors
from agentrun_tasks.tasks import ns  # noqa: F401  (invoke looks for `ns`)

exit_2_on_usage_errors()  # invoke's parser refusing the command line exits 2 (usage), not 1 (a bug)
'''
EXAMPLE_APP = '''"""An example agent: an OpenAI-compatible chat endpoint, Python standard library only.

AgentRun gives the port in $FC_SERVER_PORT. Replace the answer with your agent's work.
"""

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Agent(BaseHTTPRequestHandler):
    def do_GET(self):
        self.reply(200, {"status": "ok"})

    def do_POST(self):
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self.reply(404, {"error": "not found"})
        request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        question = (request.get("messages") or [{}])[-1].get("content", "")
        message = {"role": "assistant", "content": f"You said: {question}"}
        self.reply(200, {"id": "chatcmpl-example", "object": "chat.completion", "created": int(time.time()),
                         "model": request.get("model", "agent"),
                         "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("FC_SERVER_PORT") or 9000)), Agent).serve_forever()
'''
PYPROJECT = '''# What this project installs: agentrun-tasks (its tasks, the embedded AgentRun) and, for
# `invoke ci.test`, pytest. The generated pipelines install from the two lock files:
#   uv pip compile pyproject.toml --universal -o requirements.lock
#   uv pip compile pyproject.toml --extra test --universal -o requirements-test.lock
# The agent's own packages are in code/requirements.txt (they are built into its package).
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.0.0"
requires-python = ">=3.10"
dependencies = ["agentrun-tasks{pin}"]

[project.optional-dependencies]
test = ["pytest>=8,<10"]

[tool.setuptools]
# No Python package here (tasks.py, envs/ and code/ are read in place): `pip install -e .`
# installs the dependencies only.
packages = []

[tool.pytest.ini_options]
testpaths = ["tests"]
'''
SMOKE_TEST = '''"""Day-one test, written by `agentrun-tasks init`: deploy the agent on the embedded AgentRun
(envs/local.yaml, no cloud, no keys) and ask it one question as a client would. `invoke ci.test`
runs it in every pipeline; add your own tests beside it."""

import json
import os
import subprocess
import sys
import urllib.request

ENV = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def invoke(*args):
    return subprocess.run([sys.executable, "-m", "invoke", *args], env=ENV, capture_output=True, text=True,
                          timeout=600)


def test_the_agent_answers_on_the_embedded_agentrun():
    try:
        deployed = invoke("deploy", "--env", "local", "--json")
        assert deployed.returncode == 0, deployed.stderr + deployed.stdout
        url = json.loads(deployed.stdout)["chat_url"]
        body = {"model": "agent", "messages": [{"role": "user", "content": "ping"}]}
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert answer["choices"][0]["message"]["content"]
    finally:
        invoke("local.down")
'''
