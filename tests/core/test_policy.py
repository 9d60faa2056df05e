"""The minimal RAM policy document per task, and which attached policies are too broad."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agentrun_tasks.core.model import CredentialsConfig, EnvConfig, ReleaseConfig
from agentrun_tasks.core.policy import Attached, minimal_policy, too_broad


def env(**changes) -> EnvConfig:
    base = EnvConfig(name="prod", path=Path("/p/envs/prod.yaml"), region="cn-shanghai", driver="openapi",
                     agent={"name": "bot", "logConfig": {"project": "p1", "logstore": "s1"}})
    return replace(base, **changes)


@pytest.mark.parametrize(("names", "broad"), [
    (["AdministratorAccess"], ["AdministratorAccess"]),
    (["AliyunOSSFullAccess", "AliyunSTSAssumeRoleAccess"], ["AliyunOSSFullAccess"]),
    (["AliyunAgentRunReadOnlyAccess", "agentrun-deploy"], []),
    ([], []),
], ids=["admin", "full-access", "narrow", "none"])
def test_too_broad_flags_administrator_and_full_access(names, broad):
    assert too_broad([Attached(n, "System") for n in names]) == broad


def actions(doc: dict) -> dict[str, list[str]]:
    return {s["Resource"][0]: s["Action"] for s in doc["Statement"]}


def test_each_statement_is_scoped_to_what_the_env_file_names():
    cfg = env(credentials=CredentialsConfig(ram_user="ci"), release=ReleaseConfig(state_bucket="rel-state"))
    doc = minimal_policy(cfg, account_id="123")
    assert doc["Version"] == "1"
    assert all(s["Effect"] == "Allow" for s in doc["Statement"])
    found = actions(doc)
    assert "agentrun:PublishRuntimeVersion" in found["acs:agentrun:cn-shanghai:123:*"]
    assert "agentrun:DeleteAgentRuntime" not in found["acs:agentrun:cn-shanghai:123:*"]  # remove is not in the list
    assert found["acs:ram::123:user/ci"][0] == "ram:GetUser"
    assert "ram:CreateAccessKey" in found["acs:ram::123:user/ci"]
    assert found["acs:oss:*:123:rel-state/agentrun-tasks/*"] == ["oss:GetObject", "oss:PutObject", "oss:DeleteObject"]
    assert found["acs:log:cn-shanghai:123:project/p1/logstore/s1"] == ["log:GetLogStoreLogs"]
    assert not any(a.startswith("fc:") for acts in found.values() for a in acts)  # only the s driver needs FC


def test_tasks_choose_statements_and_unknown_scopes_are_wildcards():
    cfg = env(driver="serverless-devs", agent={"name": "bot"})
    found = actions(minimal_policy(cfg, account_id=None, tasks=["deploy", "logs"]))
    assert set(found) == {"acs:agentrun:cn-shanghai:*:*", "acs:fc:cn-shanghai:*:*", "acs:log:cn-shanghai:*:project/*"}
    assert "agentrun:PublishRuntimeVersion" not in found["acs:agentrun:cn-shanghai:*:*"]
    # Key management is never user/*: the key's own user (from STS), or no statement at all.
    assert minimal_policy(cfg, account_id="9", caller_user="ci-bot", tasks=["rotate-keys"])["Statement"][0][
        "Resource"] == ["acs:ram::9:user/ci-bot"]
    assert minimal_policy(cfg, account_id="9", tasks=["rotate-keys"])["Statement"] == []


def test_logconfig_auto_scopes_logs_to_the_project_deploy_makes_and_lets_deploy_make_it():
    found = actions(minimal_policy(env(agent={"name": "bot", "logConfig": "auto"}), account_id="123",
                                   tasks=["deploy", "logs"]))
    assert found["acs:log:cn-shanghai:123:project/aliyun-serverless-123-cn-shanghai*"] == [
        "log:CreateProject", "log:CreateLogStore", "log:CreateIndex"]
    assert found["acs:log:cn-shanghai:123:project/aliyun-serverless-123-cn-shanghai/logstore/default-logs"] == [
        "log:GetLogStoreLogs"]
    s_driver = actions(minimal_policy(env(driver="serverless-devs", agent={"name": "bot", "logConfig": "auto"}),
                                      account_id="123", tasks=["deploy"]))
    assert not any(a.startswith("log:") for acts in s_driver.values() for a in acts)  # the component makes it


def _doc(action, resource, effect="Allow"):
    import json

    return json.dumps({"Version": "1", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]})


@pytest.mark.parametrize(("action", "resource", "flagged"), [
    (["ram:CreateAccessKey", "ram:DeleteAccessKey"], "acs:ram::123:user/*", True),
    ("ram:*", "*", True),
    ("*", "*", True),
    ("ram:*AccessKey", ["acs:ram:*:*:user/*"], True),
    ("ram:UpdateAccessKey", "acs:ram::123:user/ci", False),  # its own user only
    ("ram:ListAccessKeys", "acs:ram::123:user/*", False),  # reading is not minting
    ("ram:CreateAccessKey", "acs:oss:*:123:bucket/*", False),
], ids=["user-star", "ram-star", "star", "wildcard-action", "own-user", "read-only", "other-service"])
def test_a_policy_that_lets_a_key_mint_keys_for_any_user_is_flagged(action, resource, flagged):
    from agentrun_tasks.core.policy import manages_others_keys

    assert manages_others_keys(_doc(action, resource), "ci") is flagged
    assert manages_others_keys(_doc(action, resource, effect="Deny"), "ci") is False
