"""Least privilege: the RAM policy document each task needs, and which attached policies are too broad.

Pure: ``invoke doctor`` reads the policies attached to the environment's RAM user (RAM
ListPoliciesForUser) and passes them here. Action names are RAM's (``agentrun:``, ``oss:``,
``ram:``, ``log:``, ``fc:``); ``sts:GetCallerIdentity`` needs no permission.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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
    def from_wire(cls, item: Mapping) -> Attached:
        return cls(name=str(item.get("PolicyName", "")), type=str(item.get("PolicyType", "")))


def too_broad(policies: Iterable[Attached]) -> list[str]:
    """Names of the attached policies that grant far more than any task needs: administrator
    access, or a service's full access (``AliyunOSSFullAccess``, ``AliyunRAMFullAccess``...)."""
    return [p.name for p in policies if p.name == "AdministratorAccess" or p.name.endswith("FullAccess")]


def manages_others_keys(document: str | Mapping, user: str) -> bool:
    """True if the policy ``document`` (RAM's JSON) allows creating, changing or deleting the
    AccessKeys of RAM users other than ``user`` (``user/*``, ``*``, a wildcard action or a
    ``NotAction``/``NotResource``): whoever holds a key under it can mint keys for an administrator."""
    try:
        doc = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return False
    statements = doc.get("Statement") or [] if isinstance(doc, Mapping) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = _listed(statement.get("Action"))
        resources = _listed(statement.get("Resource"))
        keyed = "NotAction" in statement or any(fnmatch.fnmatchcase(a.lower(), p.lower()) for a in _KEY_ACTIONS
                                                for p in actions)
        wide = "NotResource" in statement or any(_reaches_another_user(r, user) for r in resources)
        if keyed and wide:
            return True
    return False


_KEY_ACTIONS = ("ram:CreateAccessKey", "ram:UpdateAccessKey", "ram:DeleteAccessKey")


def _reaches_another_user(resource: str, user: str) -> bool:
    """``*``, ``acs:ram:*:*:*``, ``acs:ram::<acct>:user/*``... match a user that is not ``user``."""
    if resource == "*":
        return True
    parts = resource.split(":", 4)
    if len(parts) < 5 or not fnmatch.fnmatchcase("ram", parts[1]):
        return False
    return fnmatch.fnmatchcase(f"user/{user}-and-another", parts[4])


def _listed(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)] if value else []


def minimal_policy(env: EnvConfig, *, account_id: str | None, caller_user: str | None = None,
                   tasks: Iterable[str] = TASKS) -> dict:
    """The RAM policy document for ``tasks`` in ``env``, scoped to its region, account, RAM user,
    state bucket and log store where the env file names them (``*`` where it does not). Key
    management is scoped to one RAM user, ``credentials.ram_user`` or the key's own
    (``caller_user``, from STS), never ``user/*``: it is left out when neither is known."""
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
    user = env.credentials.ram_user or caller_user
    if "rotate-keys" in wanted and user:
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
