"""Trust policies: what AssumeRoleWithOIDC/AssumeRole allow, and what doctor calls open."""

from __future__ import annotations

import json

import pytest

from agentrun_tasks.core import trust_policy
from agentrun_tasks.core.errors import ConfigError

PROVIDER = "acs:ram::123:oidc-provider/github"
ISS = "https://token.actions.githubusercontent.com"


def _policy(condition: dict | None, effect: str = "Allow", principal: dict | None = None) -> str:
    statement = {"Effect": effect, "Action": "sts:AssumeRole", "Principal": principal or {"Federated": [PROVIDER]}}
    if condition is not None:
        statement["Condition"] = condition
    return json.dumps({"Version": "1", "Statement": [statement]})


GITHUB = {"StringEquals": {"oidc:iss": ISS, "oidc:aud": "sts.aliyuncs.com"},
          "StringLike": {"oidc:sub": ["repo:acme/agent:ref:refs/heads/main", "repo:acme/agent:environment:*"]}}


@pytest.mark.parametrize(("sub", "aud", "allowed"), [
    ("repo:acme/agent:ref:refs/heads/main", "sts.aliyuncs.com", True),
    ("repo:acme/agent:environment:prod", "sts.aliyuncs.com", True),
    ("repo:acme/agent:ref:refs/heads/feature", "sts.aliyuncs.com", False),
    ("repo:evil/agent:environment:prod", "sts.aliyuncs.com", False),
    ("repo:acme/agent:environment:prod", "other", False),
], ids=["branch", "environment", "other-branch", "other-repo", "audience"])
def test_oidc_conditions(sub, aud, allowed):
    claims = {"iss": ISS, "aud": aud, "sub": sub}
    assert trust_policy.allows(_policy(GITHUB), {"Federated": {PROVIDER}}, trust_policy.oidc_context(claims)) is allowed


def test_other_provider_deny_and_unknown_operator():
    claims = trust_policy.oidc_context({"iss": ISS, "aud": "sts.aliyuncs.com", "sub": "repo:acme/agent:x"})
    assert not trust_policy.allows(_policy(None), {"Federated": {"acs:ram::123:oidc-provider/gitlab"}}, claims)
    doc = json.loads(_policy(None))
    doc["Statement"].append({"Effect": "Deny", "Action": "sts:AssumeRole", "Principal": {"Federated": [PROVIDER]},
                             "Condition": {"StringLike": {"oidc:sub": "repo:acme/*"}}})
    assert not trust_policy.allows(doc, {"Federated": {PROVIDER}}, claims)
    odd = _policy({"NumericLessThan": {"oidc:sub": "1"}})
    assert not trust_policy.allows(odd, {"Federated": {PROVIDER}}, claims)


def test_external_id_for_plain_assume_role():
    policy = _policy({"StringEquals": {"sts:ExternalId": "abc"}}, principal={"RAM": ["acs:ram::123:root"]})
    ram = {"RAM": {"acs:ram::123:root"}}
    assert trust_policy.allows(policy, ram, {"sts:ExternalId": ["abc"]})
    assert not trust_policy.allows(policy, ram, {"sts:ExternalId": []})


@pytest.mark.parametrize(("condition", "problems"), [
    (GITHUB, []),
    (None, ["oidc:sub", "oidc:aud"]),
    ({"StringEquals": {"oidc:aud": "sts.aliyuncs.com"}, "StringLike": {"oidc:sub": "repo:*"}}, ["oidc:sub"]),
    ({"StringLike": {"oidc:sub": "repo:acme/agent:*", "oidc:aud": "*"}}, ["oidc:aud"]),
], ids=["restricted", "none", "any-repo", "any-audience"])
def test_weaknesses(condition, problems):
    found = trust_policy.weaknesses(_policy(condition))
    assert [next(k for k in ("oidc:sub", "oidc:aud") if k in w.problem) for w in found] == problems
    assert all(w.provider == PROVIDER for w in found)


def test_malformed_documents():
    with pytest.raises(ConfigError):
        trust_policy.parse("{not json")
    with pytest.raises(ConfigError):
        trust_policy.parse({"Version": "1"})
