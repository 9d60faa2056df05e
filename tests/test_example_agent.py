"""The example agent in code/, run as a real process and spoken to by the official openai client."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CODE = Path(__file__).resolve().parent.parent / "code"


def load_app():
    spec = importlib.util.spec_from_file_location("example_agent_app", CODE / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def start_agent():
    """Start code/app.py with extra environment variables; returns its base URL."""
    processes = []

    def start(**env) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=CODE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={"PATH": os.environ["PATH"], "FC_SERVER_PORT": str(port), **env})
        processes.append(process)
        assert process.stdout.readline().decode().startswith("example agent version")
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)
        process.stdout.close()


def client(url: str):
    """The official client (imported here: every worker collects this module, and openai takes ~0.5 s)."""
    import openai

    return openai.OpenAI(base_url=url + "/openai/v1", api_key="unused", max_retries=0)


def server_error():
    import openai

    return openai.InternalServerError


def test_completion_names_greeting_version_and_last_user_message(start_agent):
    url = start_agent(AGENTRUN_RUNTIME_VERSION="3")
    messages = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"type": "text", "text": "second"}]}]
    raw = client(url).chat.completions.with_raw_response.create(model="m1", messages=messages)
    completion = raw.parse()
    assert raw.headers["x-agent-version"] == "3"
    assert completion.model == "m1"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content == (
        f"{load_app().GREETING} (version 3). You said: second")


def test_streaming_sends_chunks_that_join_to_the_same_answer(start_agent):
    url = start_agent()
    messages = [{"role": "user", "content": "stream please"}]
    whole = client(url).chat.completions.create(model="m", messages=messages)
    chunks = list(client(url).chat.completions.create(model="m", messages=messages, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(chunks) > 3
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.choices[0].message.content
    assert "(version LATEST)" in whole.choices[0].message.content


def test_models_health_and_errors(start_agent):
    url = start_agent()
    assert [m.id for m in client(url).models.list()] == ["example-agent"]
    for path in ("/", "/health"):
        with urllib.request.urlopen(url + path, timeout=10) as response:
            assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(urllib.request.Request(
            url + "/openai/v1/chat/completions", data=b"not json"), timeout=10)
    assert caught.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url + "/nowhere", timeout=10)
    assert caught.value.code == 404


def test_fault_rate_one_fails_every_chat_request_but_not_health(start_agent):
    url = start_agent(AGENT_FAULT_RATE="1")
    for _ in range(5):
        with pytest.raises(server_error()):
            client(url).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    with urllib.request.urlopen(url + "/health", timeout=10) as response:
        assert response.status == 200


def test_fault_match_fails_only_the_requests_that_say_it(start_agent):
    url = start_agent(AGENT_FAULT_MATCH="checkout")
    with pytest.raises(server_error()):
        client(url).chat.completions.create(model="m", messages=[{"role": "user", "content": "my checkout fails"}])
    answer = client(url).chat.completions.create(model="m", messages=[{"role": "user", "content": "ping"}])
    assert "You said: ping" in answer.choices[0].message.content


def test_latency_is_added_to_chat_requests(start_agent):
    url = start_agent(AGENT_LATENCY_MS="300")
    started = time.monotonic()
    client(url).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert time.monotonic() - started >= 0.3  # a lower bound only: never flaky


def test_keep_alive_serves_many_requests_on_one_connection(start_agent):
    url = start_agent()
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
    for i in range(3):
        body = json.dumps({"messages": [{"role": "user", "content": str(i)}]})
        connection.request("POST", "/openai/v1/chat/completions", body)
        response = connection.getresponse()
        assert json.loads(response.read())["choices"][0]["message"]["content"].endswith(str(i))
        assert response.getheader("Connection") != "close"
    stream_body = json.dumps({"stream": True, "messages": [{"role": "user", "content": "s"}]})
    connection.request("POST", "/openai/v1/chat/completions", stream_body)
    events = connection.getresponse().read().decode().split("\n\n")
    assert events[-2] == "data: [DONE]"
    connection.request("GET", "/health")  # the chunked stream ended cleanly: the connection lives
    assert connection.getresponse().status == 200
    connection.close()
