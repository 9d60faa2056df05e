"""Role credentials against the emulator's STS: a long-lived SDK client and the OSS store keep
working across a refresh (a fresh GitHub token, a new session), and AssumeRole from a key."""

from __future__ import annotations

import itertools
import json

import pytest
from alibabacloud_ram20150501 import models as ram
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401.client import Client as StsClient

from agentrun_tasks.adapters.federation import RoleCredentials, sts_assumer
from agentrun_tasks.adapters.openapi_connection import Connection
from agentrun_tasks.adapters.oss_store import OssStateStore
from agentrun_tasks.core.errors import CredentialError
from agentrun_tasks.core.federation import RolePlan, TokenSource
from agentrun_tasks.core.retry import RetryPolicy
from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.testing.oidc_issuer import oidc_issuer, register_federation

pytest_plugins = ["agentrun_tasks.testing.emulator"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _assumer(emu, base=None):
    return sts_assumer("ci", endpoint=emu.endpoint, protocol="http", region="cn-hangzhou",
                       base_credentials=base or (lambda: None), policy=RetryPolicy(attempts=1, total=0.0))


def test_refresh_before_expiry_keeps_long_lived_clients_working(emulator, tmp_path, monkeypatch):
    with oidc_issuer(tmp_path) as issuer:
        monkeypatch.setenv("SSL_CERT_FILE", str(issuer.ca_file))  # the client trusts the issuer as CI trusts GitHub
        role_arn, provider_arn = register_federation(emulator.openapi_config(), issuer, sub="repo:acme/agent:*")
        plan = RolePlan(role_arn=role_arn, provider_arn=provider_arn, session_name="agentrun-github-1",
                        duration_s=3600, origin="test", token=TokenSource("github", issuer.github_env()[
                            "ACTIONS_ID_TOKEN_REQUEST_URL"]))
        clock = Clock()
        creds = RoleCredentials(plan, "ci", _assumer(emulator), environ=issuer.github_env(), clock=clock)
        sts = StsClient(Connection(emulator.endpoint, "http", "cn-hangzhou", creds).sdk_config())
        store = OssStateStore(lifecycle.status(emulator.root)["oss_url"], "state", "ci", creds, "cn-hangzhou")
        store.ensure_bucket()
        store.put("a.json", b"{}")
        first = creds.access_key_id.reveal()
        assert sts.get_caller_identity().body.identity_type == "AssumedRoleUser"
        clock.now += 2000  # well inside the session: no new token, no new session
        sts.get_caller_identity()
        assert creds.assumed == 1
        assert len(issuer.issued) == 1
        clock.now += 800  # past three quarters of the hour: assumed again, with a fresh token
        assert sts.get_caller_identity().body.arn.endswith("/agentrun-github-1")
        assert store.get("a.json") == b"{}"
        assert creds.assumed == 2
        assert len(issuer.issued) == 2
        assert creds.access_key_id.reveal() != first
        assert creds.masked()["source"] == "oidc"
        assert creds.masked()["expiration"].endswith("Z")


def test_assume_role_from_a_key_with_external_id(emulator):
    policy = {"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [f"acs:ram::{emulator.account_id}:root"]},
        "Condition": {"StringEquals": {"sts:ExternalId": "tools-42"}}}]}
    role = RamClient(emulator.openapi_config()).create_role(ram.CreateRoleRequest(
        role_name="prod-deployer", assume_role_policy_document=json.dumps(policy))).body.role

    class Key:
        from agentrun_tasks.core.secrets import Secret

        access_key_id = Secret(emulator.access_key_id)
        access_key_secret = emulator.access_key_secret
        security_token = None

    def plan(external_id):
        return RolePlan(role_arn=role.arn, session_name="tools", duration_s=900, origin="credentials.role_arn in x",
                        external_id=external_id)

    creds = RoleCredentials(plan("tools-42"), "prod", _assumer(emulator, lambda: Key), environ={})
    identity = StsClient(Connection(emulator.endpoint, "http", "cn-hangzhou", creds).sdk_config()).get_caller_identity()
    assert identity.body.arn == f"{role.arn}/tools"
    assert creds.masked()["source"] == "assume-role"
    wrong = RoleCredentials(plan("other"), "prod", _assumer(emulator, lambda: Key), environ={})
    with pytest.raises(CredentialError) as refused:
        wrong.ensure()
    assert "NoPermission" in str(refused.value)
    assert "external_id" in str(refused.value)


def test_fields_read_one_by_one_never_mix_two_sessions():
    """Only the id read refreshes: id, secret, token read in that order are one session's."""
    from types import SimpleNamespace

    issued = itertools.count(1)

    def assume(plan, token):
        n = next(issued)
        return SimpleNamespace(access_key_id=f"STS.id{n}", access_key_secret=f"secret{n}",
                               security_token=f"token{n}", expiration="2030-01-01T00:00:00Z")

    clock = Clock()
    plan = RolePlan(role_arn="acs:ram::1:role/r", session_name="s", duration_s=3600, origin="test")
    creds = RoleCredentials(plan, "ci", assume, environ={}, clock=clock)
    assert creds.access_key_id.reveal() == "STS.id1"
    clock.now += 3000  # past the refresh point: the secret alone does not refresh
    assert (creds.access_key_secret.reveal(), creds.security_token.reveal()) == ("secret1", "token1")
    assert (creds.access_key_id.reveal(), creds.access_key_secret.reveal(), creds.security_token.reveal()) == (
        "STS.id2", "secret2", "token2")
