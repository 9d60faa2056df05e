"""The Serverless Devs side: the agentrun component's ``props`` schema, and importing an
existing ``s.yaml`` so a project can keep it instead of rewriting its agent in ``envs/``.

An env file says ``s_yaml: {path: s.prod.yaml, resource: my-agent, vars: {...}}``; this
module reads ``resources.<resource>.props`` of the resource whose ``component`` is
``agentrun`` (also ``agentrun@1.0.12`` or ``devsapp/agentrun``): ``props.region`` becomes the
environment's region and ``props.agent`` its agent. Variables are resolved as ``s`` resolves
them (:mod:`.svars`, :mod:`.srender`), with the env file's ``s_yaml.vars`` overriding the
s.yaml's ``vars:``; ``code.src`` resolves from the s.yaml's folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .build import OTHER_LANGUAGES, PYTHON_LANGUAGES
from .errors import ConfigError
from .srender import check_document, render
from .svars import VARIABLE, AccessResolver
from .validate import (
    Loc,
    anything,
    boolean,
    choice,
    env_value,
    integer,
    loose_mapping,
    mapping,
    number,
    plain,
    seq,
    show,
    string,
)
from .yamlfile import load_yaml

# devsapp/agentrun src/common/schema.json (component 1.0.12)
REGIONS = (
    "cn-beijing", "cn-hangzhou", "cn-shanghai", "cn-zhangjiakou", "cn-shenzhen", "cn-guangzhou", "cn-chengdu",
    "cn-hongkong", "ap-southeast-1", "ap-southeast-5", "us-west-1", "eu-west-1", "eu-central-1", "ap-northeast-1",
)
LANGUAGES = (*PYTHON_LANGUAGES, *OTHER_LANGUAGES)
AGENT_NAME_RE = r"[A-Za-z][A-Za-z0-9_-]{0,127}"  # it is a path segment of the endpoint URL
_COMPONENT_RE = re.compile(r"(?:devsapp/)?agentrun(?:@\S+)?")


# --- the agentrun component's props

def _code_rules(code: dict, node: Any, loc: Loc) -> None:
    has_oss = "ossBucketName" in code or "ossObjectName" in code
    if ("src" in code) == has_oss:
        raise loc.error("needs either src (a local folder) or ossBucketName + ossObjectName, not both or neither.")
    if has_oss and not ("ossBucketName" in code and "ossObjectName" in code):
        raise loc.error("ossBucketName and ossObjectName go together.")


def _agent_rules(agent: dict, node: Any, loc: Loc) -> None:
    if ("code" in agent) == ("customContainerConfig" in agent):
        raise loc.error(
            "needs exactly one of code (a zip of a local folder or OSS object) or customContainerConfig (an image)."
        )
    if "nasConfig" in agent and "vpcConfig" not in agent:
        raise loc.child(node, "nasConfig").error("needs vpcConfig as well: NAS is reached through the VPC.")


def _log_config(value: Any, loc: Loc) -> Any:
    if value == "auto":
        return "auto"
    return mapping({"project": string(), "logstore": string()}, required=("project", "logstore"))(value, loc)


def _switch_ids(value: Any, loc: Loc) -> Any:
    return string()(value, loc) if isinstance(value, str) else seq(string(), min_len=1)(value, loc)


def _version(value: Any, loc: Loc) -> str:
    text = str(plain(value))
    if isinstance(value, bool) or not (text == "LATEST" or text.isdigit()):
        raise loc.error(f"{show(value)} is not a version: write LATEST or a published version number.")
    return text


_ENDPOINT = mapping(
    {
        "name": string(), "version": _version, "description": string(),
        "weight": number(0, 1, open_low=True, open_high=True),
    },
    required=("name",),
)

AGENT = mapping(
    {
        "name": string(pattern=AGENT_NAME_RE, fix=(
            "An agent name starts with a letter and holds only letters, digits, '-' and '_' (at most 128)."
        )),
        "description": string(),
        "code": mapping(
            {
                "src": string(), "language": choice(LANGUAGES), "command": seq(string(), min_len=1),
                "ossBucketName": string(), "ossObjectName": string(), "checksum": string(),
            },
            required=("language",), after=_code_rules,
        ),
        "customContainerConfig": mapping(
            {
                "image": string(), "port": integer(1, 65535), "command": seq(string()),
                "imageRegistryType": choice(("ACR", "ACREE", "CUSTOM")), "acrInstanceId": string(),
                "registryConfig": loose_mapping(),
            },
            required=("image",),
        ),
        "cpu": number(0.05, 16),
        "memory": integer(128, 32768),
        "diskSize": choice((512, 10240)),
        "port": integer(1, 65535),
        "instanceConcurrency": integer(1, 200),
        "vpcConfig": mapping(
            {"vpcId": string(), "vSwitchIds": _switch_ids, "securityGroupId": string()},
            required=("vpcId", "vSwitchIds", "securityGroupId"),
        ),
        "internetAccess": boolean(),
        "nasConfig": loose_mapping(),
        "role": string(),
        "logConfig": _log_config,
        "protocolConfiguration": mapping({"type": choice(("HTTP", "HTTPS"))}),
        "endpoints": seq(_ENDPOINT),
        "sessionIdleTimeoutSeconds": integer(1, None),
        "enableSessionIsolation": boolean(),
        "disableSessionAffinity": boolean(),
        "ossMountConfig": loose_mapping(),
        "environmentVariables": mapping({}, extra=env_value),
        "credentialName": string(),
        "healthCheckConfiguration": loose_mapping(),
        # read by the component's code though absent from its schema
        "workspace": anything(),
        "customDomain": anything(),
        "armsConfiguration": anything(),
    },
    required=("name",),
    after=_agent_rules,
)
"""Validator of ``props.agent`` (camelCase, as Serverless Devs writes it)."""

# Serverless Devs allows extra props; only region and agent mean something to AgentRun.
_PROPS = mapping({"region": choice(REGIONS), "agent": AGENT}, required=("region", "agent"), extra=anything())


@dataclass(frozen=True)
class Imported:
    """What an s.yaml contributes to an environment."""

    path: Path
    resource: str
    region: str
    agent: dict


def is_agentrun(component: Any) -> bool:
    return isinstance(component, str) and bool(_COMPONENT_RE.fullmatch(component.strip()))


def import_syaml(path: Path, *, display: str, resource: str | None = None, overrides: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str], access: AccessResolver | None = None,
                 allowed: tuple[Path, ...] = ()) -> Imported:
    """Read the agentrun resource of the s.yaml at ``path`` (shown to the user as ``display``).

    ``overrides`` replace top-level ``vars``; ``resource`` picks one of several agentrun resources;
    ``access`` answers ``${config('F')}`` from the environment's credentials, when one is used;
    ``allowed`` are the real paths outside the s.yaml's folder its ``file()``/``path()`` may read.
    """
    if not path.is_file():
        raise ConfigError(
            f"{display}: the s.yaml named by s_yaml.path does not exist. "
            "Fix the path (it is relative to the project root)."
        )
    doc = load_yaml(path, display)
    loc = Loc(display)
    check_document(doc, loc)
    resources = doc["resources"]
    name = _choose(resources, resource, loc.child(doc, "resources"))
    res_loc = loc.child(doc, "resources").child(resources, name)
    if "props" not in resources[name]:
        raise res_loc.error("has no props: mapping.")
    content = render(doc, path=path, display=display, environ=environ, access=access, overrides=overrides,
                     preview=False, resource=name, allowed=allowed)
    props_loc = res_loc.child(resources[name], "props")
    _resolved(content["resources"][name]["props"], props_loc)
    props = _PROPS(content["resources"][name]["props"], props_loc)
    agent = props["agent"]
    if "src" in agent.get("code", {}):
        agent["code"]["src"] = str((path.parent / agent["code"]["src"]).resolve())
    return Imported(path=path, resource=name, region=props["region"], agent=agent)


def _resolved(node: Any, loc: Loc) -> None:
    """Refuse a value still holding ``${...}`` after ``s``'s two compile passes: ``vars`` that refer
    to each other (``a: ${vars.b}``, ``b: ${vars.a}``), where ``s preview`` prints the text
    ``${vars.a}`` and a deploy would hand it to the agent as its setting."""
    items = node.items() if isinstance(node, Mapping) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(value, str) and VARIABLE.search(value):
            raise loc.child(node, key).error(
                f"{show(value)} still holds a variable after resolving: its variables refer to each other in a "
                "loop (or in a chain deeper than s resolves), and s would deploy that text as the value.",
                "Give one of the variables a value of its own.")
        _resolved(value, loc.child(node, key))


def _choose(resources: Mapping[str, Any], wanted: str | None, loc: Loc) -> str:
    def component(res: Any) -> Any:
        return res.get("component") if isinstance(res, Mapping) else None

    listing = ", ".join(f"{n} ({component(r) or 'no component'})" for n, r in resources.items()) or "none"
    candidates = [n for n, r in resources.items() if is_agentrun(component(r))]
    if wanted is not None:
        if wanted not in candidates:
            raise loc.error(f"has no agentrun resource named '{wanted}'. Resources there: {listing}.",
                            "Set s_yaml.resource to one whose component is agentrun.")
        return wanted
    if not candidates:
        raise loc.error(f"has no resource whose component is agentrun. Resources there: {listing}.",
                        "Point s_yaml.path at the s.yaml of your agent, or write the agent inline under agent:.")
    if len(candidates) > 1:
        raise loc.error(f"has several agentrun resources: {', '.join(candidates)}.",
                        "Choose one with s_yaml.resource in the env file.")
    return candidates[0]
