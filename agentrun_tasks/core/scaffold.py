"""What ``agentrun-tasks init`` writes: a project's ``tasks.py``, ``envs/``, ``.env.example``,
``.gitignore`` entries and, when there is no code, an example agent. Pure: it returns the files.

From Serverless Devs files (``--from s.prod.yaml --from s.dev.yaml``) each becomes one
environment named after the file (``s.<env>.yaml``; a plain ``s.yaml`` is ``dev``; ``FILE=ENV``
names it). Its env file imports the agent (``s_yaml:``) so the s.yaml stays the one place the
agent is described, or, with ``inline``, carries the agent itself: ``${vars.x}`` replaced by the
s.yaml's literal vars, ``${env(...)}`` kept (env files read it the same way); other variables
cannot be inlined. ``envs/local.yaml`` rehearses the first development-like agent on the
embedded emulator.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Callable, Mapping

from .cienv import PROD_NAMES
from .config import ENV_NAME_RE
from .errors import ConfigError
from .syaml import is_agentrun

GITIGNORE = (".agentrun/", ".env", ".env.*", "!.env.example")
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
_ENV_CALL = re.compile(r"""\$\{\s*env\(\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?\s*(,[^)]*)?\)\s*\}""")
_VARS = re.compile(r"\$\{\s*vars\.([\w.-]+)\s*\}")


@dataclass(frozen=True)
class Source:
    """One Serverless Devs file given to ``--from``, read but not rendered."""

    path: str  # relative to the project root, as written in the env file
    env: str
    resource: str
    doc: Mapping[str, Any]

    @property
    def props(self) -> Mapping[str, Any]:
        return self.doc["resources"][self.resource].get("props") or {}

    def code_src(self) -> str | None:
        """``code.src`` from the project root (it is relative to the s.yaml's folder), if literal."""
        src = ((self.props.get("agent") or {}).get("code") or {}).get("src")
        if not isinstance(src, str) or "${" in src:
            return None
        return str(PurePosixPath(self.path).parent / src) if not src.startswith("/") else src


def source(spec: str, doc: Any) -> Source:
    """A ``--from`` value (``FILE``, ``FILE=ENV``, ``FILE#RESOURCE``) and its parsed document."""
    path, _, env = spec.partition("=")
    path, _, wanted = path.partition("#")
    if not isinstance(doc, Mapping) or not isinstance(doc.get("resources"), Mapping):
        raise ConfigError(f"{path}: has no 'resources:' mapping, so it is not a Serverless Devs 3 s.yaml.")
    resources = doc["resources"]
    found = [n for n, r in resources.items() if isinstance(r, Mapping) and is_agentrun(r.get("component"))]
    if wanted:
        found = [n for n in found if n == wanted]
    if len(found) != 1:
        what = "no agentrun resource" if not found else f"several agentrun resources ({', '.join(found)})"
        raise ConfigError(f"{path}: has {what}" + (f" named {wanted!r}" if wanted and not found else "") +
                          ".", hint=f"Name one with --from {path}#<resource>.")
    name = env or _env_name(path)
    if not ENV_NAME_RE.fullmatch(name):
        raise ConfigError(f"--from {spec}: {name!r} is not an environment name (letters, digits, '-', '_').",
                          hint="Write --from FILE=ENV.")
    return Source(path=path, env=name, resource=found[0], doc=doc)


def _env_name(path: str) -> str:
    parts = PurePosixPath(path).name.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "s" else "dev"


def plan(sources: list[Source], *, project: str, inline: bool = False,
         code_exists: Callable[[str], bool] = lambda path: False, gitignore: str = "", pin: str = "",
         python_project: bool = False) -> dict[str, str]:
    """Every file to write (relative path -> text). ``gitignore`` is the current ``.gitignore``:
    the plan appends the missing entries to it. ``pin`` is agentrun-tasks' version range for
    the pyproject.toml (and its day-one test), written unless ``python_project`` (one exists)."""
    if len({s.env for s in sources}) != len(sources):
        raise ConfigError("two --from files map to the same environment; name them with --from FILE=ENV.")
    if any(s.env == "local" for s in sources):
        raise ConfigError("'local' is the emulator's environment; give that s.yaml another name (--from FILE=ENV).")
    files = {"tasks.py": TASKS_PY}
    if not python_project:
        files["pyproject.toml"] = PYPROJECT.format(name=_name(project), pin=pin)
        files["tests/test_agent_smoke.py"] = SMOKE_TEST
    agent = {"name": _name(project),
             "code": {"src": "code", "language": "python3.12", "command": ["python3", "app.py"]}, "port": 9000}
    for env in sources or ():
        files[f"envs/{env.env}.yaml"] = _target(env, _agent_block(env, inline))
    if not sources:
        for name in ("dev", "prod"):
            files[f"envs/{name}.yaml"] = _target_inline(name, {**agent, "name": f"{agent['name']}-{name}"})
    rehearsed = next((s for s in sources if s.env not in PROD_NAMES), sources[0] if sources else None)
    files["envs/local.yaml"] = _local(rehearsed, agent, inline)
    files[".env.example"] = _env_example([s.env for s in sources] or ["dev", "prod"], sources)
    for src in {s.code_src() for s in sources} if sources else {"code"}:
        if src is not None and not code_exists(src):
            files[f"{src}/app.py"] = EXAMPLE_APP
            files[f"{src}/requirements.txt"] = "# The agent's Python packages, one per line.\n"
    missing = [entry for entry in GITIGNORE if entry not in gitignore.splitlines()]
    if missing:
        files[".gitignore"] = gitignore + ("\n" if gitignore and not gitignore.endswith("\n") else "") + \
            "# agentrun-tasks: build output, emulator state, secrets\n" + "".join(f"{e}\n" for e in missing)
    return files


def _name(project: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", project).strip("-_") or "my-agent"


def compatible(version: str) -> str:
    """The range of releases that keep this one's tasks and env files: ``0.1.3`` -> ``>=0.1.3,<0.2``
    (before 1.0 a minor release may break), ``1.4.0`` -> ``>=1.4.0,<2``."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:3]] or [0]
    major, minor = (parts + [0])[:2]
    upper = f"0.{minor + 1}" if major == 0 else str(major + 1)
    return f">={version},<{upper}"


def _agent_block(src: Source, inline: bool) -> str:
    if not inline:
        return f"s_yaml:\n  path: {src.path}\n  resource: {src.resource}\n"
    return _yaml({"region": _inline(src.props.get("region"), src), "agent": _inlined(src)})


def _inlined(src: Source) -> Any:
    agent = _inline(dict(src.props.get("agent") or {}), src)
    code = agent.get("code")
    if isinstance(code, dict) and src.code_src():
        code["src"] = src.code_src()
    return agent


def _inline(value: Any, src: Source) -> Any:
    """``value`` with ``${vars.x}`` replaced and ``${env(...)}`` kept; anything else refused."""
    if isinstance(value, Mapping):
        return {k: _inline(v, src) for k, v in value.items()}
    if isinstance(value, list):
        return [_inline(v, src) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _VARS.fullmatch(value.strip())
    if whole:
        return _inline(_var(whole.group(1), src), src)
    text = _VARS.sub(lambda m: str(_inline(_var(m.group(1), src), src)), value)
    rest = _ENV_CALL.sub("", text)
    if "${" in rest:
        raise ConfigError(f"{src.path}: {value!r} uses a variable an env file cannot hold.",
                          hint="Import that s.yaml instead (init without --inline keeps it as s_yaml:).")
    return _ENV_CALL.sub(lambda m: "${env('" + m.group(1) + "'" + (m.group(2) or "") + ")}", text)


def _var(dotted: str, src: Source) -> Any:
    value: Any = src.doc.get("vars") or {}
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise ConfigError(f"{src.path}: ${{vars.{dotted}}} is not defined in its vars.")
        value = value[part]
    return value


def _target(src: Source, agent: str) -> str:
    head = f"# The {src.env} environment, from {src.path} (Serverless Devs); `invoke deploy --env {src.env}`.\n"
    return head + "driver: openapi\n" + agent + _policy(src.env)


def _target_inline(name: str, agent: dict) -> str:
    return (f"# The {name} environment; `invoke deploy --env {name}`.\nregion: cn-hangzhou\ndriver: openapi\n"
            + _yaml({"agent": agent}) + _policy(name))


def _policy(name: str) -> str:
    if name in PROD_NAMES:
        return (f"credentials:\n  profile: {name}\n  allow_dotenv: false\nprotect:\n  branches: [main, \"hotfix/*\", "
                "\"tag:v[0-9]*\"]\n  confirm: true\nrelease:\n  strategy: canary\n  endpoint: prod\n"
                "  steps: [0.05, 0.25, 0.5, 1.0]\n  interval: 5m\n")
    return (f"credentials:\n  profile: {name}\nrelease:\n  strategy: canary\n  endpoint: prod\n"
            "  steps: [0.25, 1.0]\n  interval: 1m\n")


def _local(src: Source | None, agent: dict, inline: bool) -> str:
    head = "# The embedded local AgentRun: `invoke deploy` rehearses the real flow here, no cloud, no keys.\n"
    body = _agent_block(src, inline) if src else "region: cn-hangzhou\n" + _yaml({"agent": agent})
    return (head + "emulator: true\n" + body + "protect:\n  branches: []\n  confirm: false\nrelease:\n"
            "  strategy: canary\n  endpoint: prod\n  steps: [0.1, 0.5, 1.0]\n  interval: 10s\n"
            "  analysis:\n    min_requests: 5\nhealth:\n  timeout: 60s\n")


def _env_example(envs: list[str], sources: list[Source]) -> str:
    lines = ["# Every variable this project's environments read, with fake values. Copy what you need to",
             "# .env.<env> (chmod 600; never commit it), or give them as CI secrets.", ""]
    for env in envs:
        suffix = env.upper().replace("-", "_")
        lines += [f"# {env}", f"# ALIYUN_ACCESS_KEY_ID_{suffix}=LTAIFAKE0000000000000000",
                  f"# ALIYUN_ACCESS_KEY_SECRET_{suffix}=FAKEsecret000000000000000000000",
                  f"# ALIYUN_ACCOUNT_ID_{suffix}=0000000000000000", ""]
    names = sorted({m.group(1) for s in sources for m in _ENV_CALL.finditer(_flatten(s.doc))})
    if names:
        lines += ["# Read by the s.yaml files with ${env(...)}"] + [f"# {n}=" for n in names] + [""]
    return "\n".join(lines)


def _flatten(value: Any) -> str:
    if isinstance(value, Mapping):
        return " ".join(_flatten(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return str(value)


def _yaml(value: Any, indent: int = 0) -> str:
    """Block YAML of plain data, every string quoted as JSON (valid YAML, no surprises)."""
    pad = "  " * indent
    out = []
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            out.append(f"{pad}{key}:\n{_yaml(item, indent + 1)}")
        else:
            out.append(f"{pad}{key}: {json.dumps(item, ensure_ascii=False)}\n")
    return "".join(out)
