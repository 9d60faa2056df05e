"""A test stand-in for the devsapp ``agentrun`` component, run by the real ``s`` from an isolated home.

``install(home, url, ...)`` places it where ``s`` looks for the pinned component
(``<home>/.s/components/devsapp.cn/v3/agentrun@1.0.12``, with the ``.s.lock`` that stops any
download), so ``s`` runs every command offline. The component is a small JavaScript class (the
shape ``s`` loads: a class whose methods are the commands) that posts each call to ``url``, which
:func:`answering` serves from a thread of the test's own process (a Python child per call cost
half a second of imports, and the suite's ``s`` calls are many): it appends what ``s`` gave it
(command, arguments, props, credentials) to a record file, then either replays scripted outputs
(``replay``: ``{"endpoint publish": [out1, {"error": "..."}], ...}``, each list consumed in order,
its last entry repeated) or forwards the command to an AgentRun emulator (:mod:`.s_forward`). A
scripted ``{"error": message}`` is thrown, so ``s`` reports it as a component failure (exit 101,
or 0 under ``-o``).

    with s_component.answering() as url:
        s_component.install(home, url, record=tmp_path / "calls.jsonl", replay={...})
        ...  # run s with serverless_devs_config_home=<home>

Set ``serverless_devs_config_home=<home>`` in the environment ``s`` runs with.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..adapters.s_cli import COMPONENT
from .loopback import serving

__all__ = ["COMMANDS", "answering", "component_dir", "install", "recorded"]

CONFIG = "agentrun-tasks-test.json"
COMMANDS = ("deploy", "info", "remove", "version", "endpoint", "logs", "build")

_SHIM = """\
const http = require('http');
const path = require('path');
const configPath = path.join(__dirname, %(config)s);
const config = require(configPath);

function post(body) {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const request = http.request(config.url, { method: 'POST', headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => response.statusCode === 200 ? resolve(JSON.parse(text))
        : reject(new Error('test component crashed: ' + text)));
    });
    request.on('error', reject);
    request.end(body);
  });
}

async function handle(command, inputs) {
  const credential = await inputs.getCredential();
  const request = { command, args: inputs.args || [], props: inputs.props || {}, credential };
  const answer = await post(JSON.stringify({ config: configPath, request }));
  if (answer.error !== undefined) throw new Error(answer.error);
  return answer.output;
}

class AgentRun {
  constructor(params) {}
}
for (const command of %(commands)s) {
  AgentRun.prototype[command] = function (inputs) { return handle(command, inputs); };
}
module.exports = AgentRun;
"""


def component_dir(home: Path) -> Path:
    return Path(home) / ".s" / "components" / "devsapp.cn" / "v3" / COMPONENT


def install(home: Path, url: str, *, record: Path, replay: dict | None = None, forward: dict | None = None) -> Path:
    """Put the component in ``home``'s cache, posting its calls to ``url`` (:func:`answering`'s);
    calls go to ``record``, answers come from ``replay`` or from the emulator ``forward`` names
    (``{"endpoint": "127.0.0.1:PORT"}``)."""
    folder = component_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.js").write_text(_SHIM % {"config": json.dumps(CONFIG), "commands": json.dumps(COMMANDS)})
    (folder / "package.json").write_text(json.dumps({"name": "agentrun", "main": "index.js"}))
    name, version = COMPONENT.split("@")
    (folder / "publish.yaml").write_text(f"Name: {name}\nVersion: {version}\n")
    (folder / ".s.lock").write_text(json.dumps({"version": version, "lastUpdateCheck": int(time.time() * 1000)}))
    settings = {"url": url, "record": str(record), "replay": replay, "forward": forward}
    (folder / CONFIG).write_text(json.dumps(settings))
    return folder


def recorded(record: Path) -> list[dict]:
    """Every call the component received, in order."""
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def _key(request: dict) -> str:
    subcommand = next((a for a in request["args"] if not a.startswith("-")), None)
    return f"{request['command']} {subcommand}" if request["command"] in ("version", "endpoint") else request["command"]


def _replayed(config_path: Path, config: dict, key: str) -> dict:
    script = config["replay"] or {}
    answers = script.get(key)
    if not answers:
        return {"error": f"the test script has no answer for `{key}`"}
    answer = answers[0]
    if len(answers) > 1:  # consume it; the last answer repeats
        script[key] = answers[1:]
        config_path.write_text(json.dumps(config))
    return answer if "error" in answer else {"output": answer.get("output")}


def answer(config_path: Path, request: dict) -> dict:
    """Record one call of an installed component and answer it as its settings say."""
    config = json.loads(config_path.read_text())
    with open(config["record"], "a", encoding="utf-8") as log:
        log.write(json.dumps(request) + "\n")
    if config.get("forward"):
        from .s_forward import forward

        return forward(config["forward"], request)
    return _replayed(config_path, config, _key(request))


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        call = json.loads(self.rfile.read(int(self.headers["content-length"])))
        try:
            status, body = 200, json.dumps(answer(Path(call["config"]), call["request"]))
        except Exception:  # the component reports it as a crash, with the traceback to read
            status, body = 500, traceback.format_exc()
        data = body.encode()
        self.send_response(status)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def answering() -> Iterator[str]:
    """Answer the calls of installed components from a thread of this process, on a free loopback
    port; yields the URL :func:`install` takes."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    with serving(server, "s-component"):
        yield f"http://127.0.0.1:{server.server_address[1]}/"
