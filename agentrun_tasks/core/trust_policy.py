"""A RAM role's trust policy (``AssumeRolePolicyDocument``): who may assume it with an OIDC token.

One reading serves two readers: the emulator's STS decides ``AssumeRoleWithOIDC`` with
:func:`allows`, and ``invoke doctor`` lists what leaves a role open with :func:`weaknesses`.
The document is RAM's policy grammar::

    {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
      "Principal": {"Federated": ["acs:ram::<account>:oidc-provider/<name>"]},
      "Condition": {"StringEquals": {"oidc:iss": "...", "oidc:aud": "sts.aliyuncs.com"},
                    "StringLike": {"oidc:sub": "repo:owner/repo:*"}}}]}

A condition value may be one string or a list (any one matches); ``StringLike`` takes ``*`` and
``?`` wildcards. Every condition of a statement must hold; a matching ``Deny`` wins over any
``Allow``. Operators other than the two string ones never match, so an unknown one refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .errors import ConfigError

CLAIM_KEYS = {"oidc:iss": "iss", "oidc:aud": "aud", "oidc:sub": "sub"}
_OPERATORS = ("StringEquals", "StringLike")


def parse(document: str | Mapping[str, Any]) -> list[dict]:
    """The statements of a trust policy (a JSON string or an already parsed mapping)."""
    try:
        doc = json.loads(document) if isinstance(document, str) else dict(document)
    except ValueError as exc:
        raise ConfigError(f"The trust policy is not JSON: {exc}.") from None
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise ConfigError("The trust policy has no Statement list.")
    return statements


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _is_assume(statement: Mapping[str, Any]) -> bool:
    return any(a in ("sts:AssumeRole", "sts:*", "*") for a in _listed(statement.get("Action")))


def _names_principal(statement: Mapping[str, Any], principals: Mapping[str, Iterable[str]]) -> bool:
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return principal == "*"
    return any(set(_listed(principal.get(kind))) & set(ids) for kind, ids in principals.items())


def _condition_holds(conditions: Mapping[str, Any], context: Mapping[str, list[str]]) -> bool:
    for operator, tests in conditions.items():
        if operator not in _OPERATORS or not isinstance(tests, Mapping):
            return False
        for key, wanted in tests.items():
            have, patterns = context.get(key, []), _listed(wanted)
            if operator == "StringEquals":
                ok = any(v == p for v in have for p in patterns)
            else:
                ok = any(fnmatchcase(v, p) for v in have for p in patterns)
            if not ok:
                return False
    return True


def oidc_context(claims: Mapping[str, Any]) -> dict[str, list[str]]:
    """The condition keys a verified OIDC token sets: ``oidc:iss``, ``oidc:aud``, ``oidc:sub``."""
    return {key: _listed(claims.get(claim)) for key, claim in CLAIM_KEYS.items()}


def allows(document: str | Mapping[str, Any], principals: Mapping[str, Iterable[str]],
           context: Mapping[str, list[str]]) -> bool:
    """True if the policy lets the caller assume the role. ``principals`` maps a principal kind
    (``Federated``: the provider ARN; ``RAM``: the account's ``root`` ARN and the user's ARN) to
    the caller's ids; ``context`` maps condition keys (``oidc:sub``, ``sts:ExternalId``) to values."""
    allowed = False
    for statement in parse(document):
        if not (_is_assume(statement) and _names_principal(statement, principals)):
            continue
        if not _condition_holds(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


@dataclass(frozen=True)
class Weakness:
    """Something that leaves a federated role open: which provider, and what is wrong."""

    provider: str
    problem: str


def _unrestricted(patterns: list[str], *, operator: str) -> bool:
    """No pattern, or one that any value matches (``*``, or ``repo:*`` style prefixes alone)."""
    if not patterns:
        return True
    if operator != "StringLike":
        return False
    return any(p.strip("*?") in ("", "repo:", "project_path:") for p in patterns)


def weaknesses(document: str | Mapping[str, Any]) -> list[Weakness]:
    """For each federated Allow statement: an unrestricted ``oidc:sub`` or an open ``oidc:aud``."""
    found: list[Weakness] = []
    for statement in parse(document):
        principal = statement.get("Principal")
        federated = _listed(principal.get("Federated")) if isinstance(principal, Mapping) else []
        if statement.get("Effect") != "Allow" or not _is_assume(statement) or not federated:
            continue
        conditions = statement.get("Condition") or {}
        for key, what in (("oidc:sub", "oidc:sub is not restricted: any repository, branch or job of the "
                                       "provider can assume the role"),
                          ("oidc:aud", "the audience (oidc:aud) is open: a token minted for any audience "
                                       "is accepted")):
            equals = _listed((conditions.get("StringEquals") or {}).get(key))
            like = _listed((conditions.get("StringLike") or {}).get(key))
            if not equals and _unrestricted(like, operator="StringLike"):
                found.extend(Weakness(p, what) for p in federated)
    return found
