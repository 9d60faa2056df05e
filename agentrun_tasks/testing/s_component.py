"""A test stand-in for the devsapp ``agentrun`` component, run by the real ``s`` from an isolated home.

``install(home, ...)`` places it where ``s`` looks for the pinned component
(``<home>/.s/components/devsapp.cn/v3/agentrun@1.0.12``, with the ``.s.lock`` that stops any
download), so ``s`` runs every command offline. The component is a small JavaScript class (the
shape ``s`` loads: a class whose methods are the commands) that hands each call to this module
in a Python child: it appends what ``s`` gave it (command, arguments, props, credentials) to a
record file, then either replays scripted outputs (``replay``: ``{"endpoint publish": [out1,
{"error": "..."}], ...}``, each list consumed in order, its last entry repeated) or forwards the
command to an AgentRun emulator (:mod:`.s_forward`). A scripted ``{"error": message}`` is thrown,
so ``s`` reports it as a component failure (exit 101, or 0 under ``-o``).

Set ``serverless_devs_config_home=<home>`` in the environment ``s`` runs with.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..adapters.s_cli import COMPONENT

__all__ = ["COMMANDS", "component_dir", "install", "main", "recorded"]

CONFIG = "agentrun-tasks-test.json"
COMMANDS = ("deploy", "info", "remove", "version", "endpoint", "logs", "build")

_SHIM = """\
const { spawnSync } = require('child_process');
const path = require('path');
const config = require(path.join(__dirname, %(config)s));

async function handle(command, inputs) {
  const credential = await inputs.getCredential();
  const request = { command, args: inputs.args || [], props: inputs.props || {}, credential };
  const child = spawnSync(config.python, ['-m', 'agentrun_tasks.testing.s_component', path.join(__dirname, %(config)s)],
                          { input: JSON.stringify(request), env: process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (child.status !== 0) throw new Error('test component crashed: ' + child.stderr);
  const answer = JSON.parse(child.stdout);
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


def install(home: Path, *, record: Path, replay: dict | None = None, forward: dict | None = None) -> Path:
    """Put the component in ``home``'s cache; calls go to ``record``, answers come from ``replay``
    or from the emulator ``forward`` names (``{"endpoint": "127.0.0.1:PORT"}``)."""
    folder = component_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.js").write_text(_SHIM % {"config": json.dumps(CONFIG), "commands": json.dumps(COMMANDS)})
    (folder / "package.json").write_text(json.dumps({"name": "agentrun", "main": "index.js"}))
    name, version = COMPONENT.split("@")
    (folder / "publish.yaml").write_text(f"Name: {name}\nVersion: {version}\n")
    (folder / ".s.lock").write_text(json.dumps({"version": version, "lastUpdateCheck": int(time.time() * 1000)}))
    settings = {"python": sys.executable, "record": str(record), "replay": replay, "forward": forward}
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


def main(config_path: str) -> None:
    path = Path(config_path)
    config = json.loads(path.read_text())
    request = json.loads(sys.stdin.read())
    with open(config["record"], "a", encoding="utf-8") as log:
        log.write(json.dumps(request) + "\n")
    if config.get("forward"):
        from .s_forward import forward

        answer = forward(config["forward"], request)
    else:
        answer = _replayed(path, config, _key(request))
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main(sys.argv[1])
