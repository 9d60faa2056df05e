"""Least privilege: the RAM policy document each task needs, and which attached policies are too broad.

Pure: ``invoke doctor`` reads the policies attached to the environment's RAM user (RAM
ListPoliciesForUser) and passes them here. Action names are RAM's (``agentrun:``, ``oss:``,
``ram:``, ``log:``, ``fc:``); ``sts:GetCallerIdentity`` needs no permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .agentspec import auto_log_config
from .model import EnvConfig

TASKS = ("deploy", "release", "rotate-keys", "logs")

_RUNTIME_READ = ("agentrun:GetAgentRuntime", "agentrun:ListAgentRuntimes")
_ENDPOINTS = ("agentrun:ListAgentRuntimeEndpoints", "agentrun:GetAgentRuntimeEndpoint",
              "agentrun:CreateAgentRuntimeEndpoint", "agentrun:UpdateAgentRuntimeEndpoint")
_ACTIONS: dict[str, tuple[str, ...]] = {
    "deploy": (*_RUNTIME_READ, "agentrun:CreateAgentRuntime", "agentrun:UpdateAgentRuntime", *_ENDPOINTS),
    "release": (*_RUNTIME_READ, "agentrun:PublishRuntimeVersion", "agentrun:ListAgentRuntimeVersions", *_ENDPOINTS),
    "rotate-keys": ("ram:GetUser", "ram:ListAccessKeys", "ram:CreateAccessKey", "ram:UpdateAccessKey",
                    "ram:DeleteAccessKey", "ram:GetAccessKeyLastUsed"),
    "logs": ("log:GetLogStoreLogs",),  # GetLogsV2
}
_STATE_OBJECTS = ("oss:GetObject", "oss:PutObject", "oss:DeleteObject")
# What deploy calls for logConfig: auto (adapters/sls_setup.py).
_AUTO_LOG_SETUP = ("log:CreateProject", "log:CreateLogStore", "log:CreateIndex")
# The Serverless Devs component uploads code through FC's temporary bucket before it deploys.
_S_UPLOAD = ("fc:GetTempBucketToken",)


@dataclass(frozen=True)
class Attached:
    """One policy attached to a RAM user, as ListPoliciesForUser returns it."""

    name: str
    type: str  # System | Custom

    @classmethod
    def from_wire(cls, item: Mapping) -> "Attached":
        return cls(name=str(item.get("PolicyName", "")), type=str(item.get("PolicyType", "")))


def too_broad(policies: Iterable[Attached]) -> list[str]:
    """Names of the attached policies that grant far more than any task needs: administrator
    access, or a service's full access (``AliyunOSSFullAccess``, ``AliyunRAMFullAccess``...)."""
    return [p.name for p in policies if p.name == "AdministratorAccess" or p.name.endswith("FullAccess")]


def minimal_policy(env: EnvConfig, *, account_id: str | None, tasks: Iterable[str] = TASKS) -> dict:
    """The RAM policy document for ``tasks`` in ``env``, scoped to its region, account, RAM user,
    state bucket and log store where the env file names them (``*`` where it does not)."""
    account = account_id or env.credentials.account_id or "*"
    region = env.region
    wanted = [t for t in TASKS if t in set(tasks)]
    statements: list[dict] = []

    agentrun = sorted({a for t in wanted if t in ("deploy", "release") for a in _ACTIONS[t]})
    if agentrun:
        statements.append(_allow(agentrun, f"acs:agentrun:{region}:{account}:*"))
    if env.driver == "serverless-devs" and "deploy" in wanted:
        statements.append(_allow(_S_UPLOAD, f"acs:fc:{region}:{account}:*"))
    bucket = env.release.state_bucket
    if bucket and {"deploy", "release"} & set(wanted):
        statements.append(_allow(("oss:ListObjects",), f"acs:oss:*:{account}:{bucket}"))
        statements.append(_allow(_STATE_OBJECTS, f"acs:oss:*:{account}:{bucket}/{env.release.state_prefix}*"))
    if "rotate-keys" in wanted:
        user = env.credentials.ram_user or "*"
        statements.append(_allow(_ACTIONS["rotate-keys"], f"acs:ram::{account}:user/{user}"))
    log = env.agent.get("logConfig")
    if log == "auto":  # the project and logstore deploy makes, named as the component names them
        log = auto_log_config(region, account)
        if "deploy" in wanted and env.driver == "openapi":
            statements.append(_allow(_AUTO_LOG_SETUP, f"acs:log:{region}:{account}:project/{log['project']}*"))
    if "logs" in wanted:
        where = (f"project/{log['project']}/logstore/{log['logstore']}" if isinstance(log, Mapping)
                 else "project/*")
        statements.append(_allow(_ACTIONS["logs"], f"acs:log:{region}:{account}:{where}"))
    return {"Version": "1", "Statement": statements}


def _allow(actions: Iterable[str], resource: str) -> dict:
    return {"Effect": "Allow", "Action": list(actions), "Resource": [resource]}
