"""What ``agentrun-tasks init`` writes: every file of a new project, as text. Pure: it returns
the files. From Serverless Devs files (:mod:`.sources`) each becomes one environment whose env
file imports the agent (``s_yaml:``), so the s.yaml stays the one place the agent is described,
or, with ``inline``, carries the agent itself. ``envs/local.yaml`` rehearses the first
development-like agent on the embedded emulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..cienv import PROD_NAMES
from ..errors import ConfigError
from .sources import Source, env_variables, inline_value, inlined_agent
from .templates import EXAMPLE_APP, PYPROJECT, SMOKE_TEST, TASKS_PY

GITIGNORE = (".agentrun/", ".env", ".env.*", "!.env.example")


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
    major, minor = ([*parts, 0])[:2]
    upper = f"0.{minor + 1}" if major == 0 else str(major + 1)
    return f">={version},<{upper}"


def _agent_block(src: Source, inline: bool) -> str:
    if not inline:
        return f"s_yaml:\n  path: {src.path}\n  resource: {src.resource}\n"
    return _yaml({"region": inline_value(src.props.get("region"), src), "agent": inlined_agent(src)})


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
    names = sorted(set().union(*(env_variables(s) for s in sources)))
    if names:
        lines += ["# Read by the s.yaml files with ${env(...)}"] + [f"# {n}=" for n in names] + [""]
    return "\n".join(lines)


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
