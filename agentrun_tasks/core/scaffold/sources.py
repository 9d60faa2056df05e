"""The Serverless Devs files given to ``init --from``: which agentrun resource each holds, which
environment it becomes (``s.<env>.yaml``; a plain ``s.yaml`` is ``dev``; ``FILE=ENV`` names it),
and its agent inlined for an env file: ``${vars.x}`` replaced by the s.yaml's literal vars,
``${env(...)}`` kept (env files read it the same way); other variables cannot be inlined."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..config import ENV_NAME_RE
from ..errors import ConfigError
from ..syaml import is_agentrun

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


def inlined_agent(src: Source) -> Any:
    """The s.yaml's ``agent`` props for an env file: inlined, ``code.src`` from the project root."""
    agent = inline_value(dict(src.props.get("agent") or {}), src)
    code = agent.get("code")
    if isinstance(code, dict) and src.code_src():
        code["src"] = src.code_src()
    return agent


def inline_value(value: Any, src: Source) -> Any:
    """``value`` with ``${vars.x}`` replaced and ``${env(...)}`` kept; anything else refused."""
    if isinstance(value, Mapping):
        return {k: inline_value(v, src) for k, v in value.items()}
    if isinstance(value, list):
        return [inline_value(v, src) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _VARS.fullmatch(value.strip())
    if whole:
        return inline_value(_var(whole.group(1), src), src)
    text = _VARS.sub(lambda m: str(inline_value(_var(m.group(1), src), src)), value)
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


def env_variables(src: Source) -> set[str]:
    """The variables ``src`` reads with ``${env(...)}``."""
    return {m.group(1) for m in _ENV_CALL.finditer(_flatten(src.doc))}


def _flatten(value: Any) -> str:
    if isinstance(value, Mapping):
        return " ".join(_flatten(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return str(value)
