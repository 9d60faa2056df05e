"""Translate a Serverless Devs ``props.agent`` block into the AgentRun API's runtime input.

The field mapping follows the devsapp agentrun component (``normalizeAgentConfig``), so an
agent imported from an existing ``s.yaml`` deploys the same runtime the component would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigError
from .validate import Unset

_PASS_THROUGH = {
    "description": "description",
    "cpu": "cpu",
    "memory": "memory",
    "diskSize": "diskSize",
    "port": "port",
    "instanceConcurrency": "sessionConcurrencyLimitPerInstance",
    "sessionIdleTimeoutSeconds": "sessionIdleTimeoutSeconds",
    "enableSessionIsolation": "enableSessionIsolation",
    "disableSessionAffinity": "disableSessionAffinity",
    "environmentVariables": "environmentVariables",
    "credentialName": "credentialName",
    "healthCheckConfiguration": "healthCheckConfiguration",
    "ossMountConfig": "ossMountConfig",
    "nasConfig": "nasConfig",
    "protocolConfiguration": "protocolConfiguration",
    "armsConfiguration": "armsConfiguration",
    "workspace": "workspaceId",
}

DEFAULTS = {"cpu": 1, "memory": 2048, "port": 8000, "diskSize": 512}
# What ``logConfig: auto`` stands for: the SLS project and logstore the devsapp agentrun component
# creates for it (src/impl/sls.ts), so both tools send the same runtime to the same logs.
AUTO_LOGSTORE = "default-logs"


def auto_log_config(region: str, account_id: str | None) -> dict[str, str]:
    """The ``{project, logstore}`` that ``logConfig: auto`` stands for in ``region`` of the account."""
    return {"project": f"aliyun-serverless-{_account(account_id)}-{region}", "logstore": AUTO_LOGSTORE}


def needs_account_id(agent: Mapping[str, Any]) -> bool:
    """Whether the runtime input names the account: a short ``role`` name, or ``logConfig: auto``."""
    role = agent.get("role") or ""
    return (bool(role) and not role.startswith("acs:")) or agent.get("logConfig") == "auto"


def runtime_input(agent: Mapping[str, Any], *, account_id: str | None, code: Mapping[str, Any] | None,
                  region: str | None = None) -> dict:
    """The ``CreateAgentRuntimeInput`` / ``UpdateAgentRuntimeInput`` wire dict for ``agent``.

    ``code`` is the ``codeConfiguration`` of the package to deploy (zipFile or OSS object plus
    checksum); ``None`` for container agents. ``account_id`` (and ``region``, for
    ``logConfig: auto``) are needed where :func:`needs_account_id` says so.
    """
    for value in (agent.get("environmentVariables") or {}).values():
        if isinstance(value, Unset):  # resolved only now that it is deployed
            raise value.error()
    body: dict[str, Any] = {"agentRuntimeName": agent["name"]}
    for key, wire in _PASS_THROUGH.items():
        value = agent.get(key, DEFAULTS.get(key))
        if value is not None:
            body[wire] = value
    if "customContainerConfig" in agent:
        body["artifactType"] = "Container"
        body["containerConfiguration"] = dict(agent["customContainerConfig"])
    else:
        body["artifactType"] = "Code"
        source = agent.get("code") or {}
        config = {"language": source.get("language"), "command": list(source.get("command") or [])}
        config.update(code or {})
        body["codeConfiguration"] = {k: v for k, v in config.items() if v not in (None, [])}
    body["networkConfiguration"] = network_configuration(agent)
    role = agent.get("role")
    if role:
        body["executionRoleArn"] = role if role.startswith("acs:") else f"acs:ram::{_account(account_id)}:role/{role}"
    log = agent.get("logConfig")
    if log == "auto":
        if region is None:
            raise ValueError("logConfig: auto needs the region")  # a caller's bug, not a user's setting
        body["logConfiguration"] = auto_log_config(region, account_id)
    elif isinstance(log, Mapping):
        body["logConfiguration"] = {"project": log.get("project"), "logstore": log.get("logstore")}
    return body


def _account(account_id: str | None) -> str:
    if not account_id:
        raise ConfigError("agent.role as a short name and logConfig: auto name the account, and its id is not "
                          "known: set credentials.account_id in the env file (or ALIYUN_ACCOUNT_ID).")
    return account_id


def network_configuration(agent: Mapping[str, Any]) -> dict:
    """VPC plus ``internetAccess`` decide the network mode, as the component does."""
    vpc = agent.get("vpcConfig")
    internet = agent.get("internetAccess", True) is not False
    if not vpc:
        return {"networkMode": "PUBLIC" if internet else "PRIVATE"}
    switches = vpc.get("vSwitchIds")
    return {
        "networkMode": "PUBLIC_AND_PRIVATE" if internet else "PRIVATE",
        "vpcId": vpc.get("vpcId"),
        "vswitchIds": [switches] if isinstance(switches, str) else list(switches or []),
        "securityGroupId": vpc.get("securityGroupId"),
    }


# Optional fields a removed setting must be cleared on: an update sends only what it names, so a
# field left out keeps its live value. Fields with a default (cpu, memory, ...) are always sent;
# fields the platform fills in itself when unset (workspaceId, healthCheckConfiguration,
# protocolConfiguration, armsConfiguration) are left alone, or every deploy would "change" them.
_CLEARABLE = frozenset({"environmentVariables", "credentialName", "description", "executionRoleArn",
                        "logConfiguration", "ossMountConfig", "nasConfig", "enableSessionIsolation",
                        "disableSessionAffinity"})
# Maps whose keys are the user's own: compared exactly, so a removed key is a change.
_EXACT_MAPS = {"environmentVariables"}


def cleared(live: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict:
    """The optional fields the live runtime still has but ``wanted`` no longer sets, each with the
    empty value that clears it; an update must send them, or the removed setting stays."""
    return {key: _empty(live[key]) for key in sorted(_CLEARABLE)
            if key not in wanted and _present(live.get(key))}


def needs_update(live: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """Fields of ``wanted`` whose live value differs (the code is compared by its checksum), and
    the live fields it removes (see :func:`cleared`).

    An empty list means the runtime already is what we would deploy, so a rerun after a crash
    converges without touching it. A false "changed" only costs a redundant update.
    """
    changed = []
    for key, value in wanted.items():
        if key == "codeConfiguration":
            live_code = live.get(key) or {}
            want = {k: v for k, v in value.items() if k not in ("zipFile", "ossBucketName", "ossObjectName")}
            if any(str(live_code.get(k)) != str(v) for k, v in want.items()):
                changed.append(key)
        elif key in _EXACT_MAPS:
            if dict(live.get(key) or {}) != dict(value or {}):
                changed.append(key)
        elif not _same(live.get(key), value):
            changed.append(key)
    return changed + list(cleared(live, wanted))


def _present(value: Any) -> bool:
    return value not in (None, "", {}, [], False)


def _empty(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {}
    if isinstance(value, (list, tuple)):
        return []
    return False if isinstance(value, bool) else ""


def _same(live: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        return isinstance(live, Mapping) and all(_same(live.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, (int, float)) and isinstance(live, (int, float)) and not isinstance(wanted, bool):
        return float(live) == float(wanted)
    return live == wanted
