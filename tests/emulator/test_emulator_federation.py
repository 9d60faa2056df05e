"""OIDC federation on the emulator through the official IMS, RAM and STS clients: the provider
and role registered, AssumeRoleWithOIDC against a real HTTPS issuer (certificate pinned), every
documented refusal, and the temporary credentials the control plane and OSS accept until expiry."""

from __future__ import annotations

import json

import alibabacloud_oss_v2 as oss
import pytest
from alibabacloud_ims20190815 import models as ims
from alibabacloud_ims20190815.client import Client as ImsClient
from alibabacloud_ram20150501 import models as ram
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401 import models as sts
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config

from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.emulator.state import State
from agentrun_tasks.testing.oidc_issuer import oidc_issuer, other_key, register_federation

pytest_plugins = ["agentrun_tasks.testing.emulator"]
SUB = "repo:acme/agent:environment:prod"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    with oidc_issuer(tmp_path_factory.mktemp("issuer")) as running:
        yield running


@pytest.fixture(scope="module")
def federation(emu, issuer):
    role_arn, provider_arn = register_federation(emu.openapi_config(), issuer, sub="repo:acme/agent:*")
    return role_arn, provider_arn


def _anonymous_sts(emu) -> StsClient:
    return StsClient(Config(endpoint=emu.endpoint, protocol="http", region_id="cn-hangzhou"))


def _assume(emu, federation, token, **extra):
    role_arn, provider_arn = federation
    request = sts.AssumeRoleWithOIDCRequest(role_arn=role_arn, oidcprovider_arn=provider_arn, oidctoken=token,
                                            role_session_name=extra.pop("session", "github-4242"), **extra)
    return _anonymous_sts(emu).assume_role_with_oidc(request).body


def test_provider_and_role_read_back_through_the_sdks(emu, issuer, federation):
    role_arn, provider_arn = federation
    assert provider_arn == f"acs:ram::{emu.account_id}:oidc-provider/github"
    assert role_arn == f"acs:ram::{emu.account_id}:role/agentrun-deployer"
    got = ImsClient(emu.openapi_config()).get_oidcprovider(
        ims.GetOIDCProviderRequest(oidcprovider_name="github")).body.oidcprovider
    assert (got.issuer_url, got.fingerprints, got.client_ids) == (issuer.url, issuer.fingerprint, "sts.aliyuncs.com")
    role = RamClient(emu.openapi_config()).get_role(ram.GetRoleRequest(role_name="agentrun-deployer")).body.role
    policy = json.loads(role.assume_role_policy_document)
    assert policy["Statement"][0]["Principal"]["Federated"] == [provider_arn]
    with pytest.raises(ClientException) as missing:
        RamClient(emu.openapi_config()).get_role(ram.GetRoleRequest(role_name="nobody"))
    assert missing.value.code == "EntityNotExist.Role"
    with pytest.raises(ClientException) as twice:
        register_federation(emu.openapi_config(), issuer)
    assert twice.value.code == "EntityAlreadyExists.OIDCProvider"


def test_assumed_credentials_work_until_they_expire(emu, issuer, federation):
    body = _assume(emu, federation, issuer.token(sub=SUB), duration_seconds=900)
    creds = body.credentials
    assert creds.access_key_id.startswith("STS.")
    assert creds.security_token
    assert body.oidctoken_info.subject == SUB
    assert body.assumed_role_user.arn.endswith("/agentrun-deployer/github-4242")
    config = Config(access_key_id=creds.access_key_id, access_key_secret=creds.access_key_secret,
                    security_token=creds.security_token, endpoint=emu.endpoint, protocol="http",
                    region_id="cn-hangzhou")
    identity = StsClient(config).get_caller_identity().body
    assert identity.identity_type == "AssumedRoleUser"
    assert identity.account_id == emu.account_id
    # Without its token, or with another one, the temporary key is refused.
    for token, code in ((None, "MissingSecurityToken"), ("CAISforged", "InvalidSecurityToken.MismatchWithAccessKey")):
        bad = Config(access_key_id=creds.access_key_id, access_key_secret=creds.access_key_secret,
                     security_token=token, endpoint=emu.endpoint, protocol="http", region_id="cn-hangzhou")
        with pytest.raises(ClientException) as refused:
            StsClient(bad).get_caller_identity()
        assert refused.value.code == code
    # OSS takes them too, with their own token only.
    assert _oss_put(emu, creds, creds.security_token) == 200
    with pytest.raises(oss.exceptions.OperationError) as wrong:
        _oss_put(emu, creds, "CAISforged")
    assert "InvalidSecurityToken" in str(wrong.value)
    # Expiry: the emulator runs on the wall clock, so move this key's expiry into the past while
    # it is stopped; it reloads the state when it starts again.
    lifecycle.stop(emu.root)
    state = State(emu.root)
    state.keys[creds.access_key_id]["_expires"] = 1.0
    state.save()
    emu.restart()
    with pytest.raises(ClientException) as expired:
        StsClient(config).get_caller_identity()
    assert expired.value.code == "InvalidSecurityToken.Expired"
    with pytest.raises(oss.exceptions.OperationError) as expired_oss:
        _oss_put(emu, creds, creds.security_token)
    assert "InvalidAccessKeyId" in str(expired_oss.value)


def _oss_put(emu, creds, token) -> int:
    cfg = oss.config.load_default()
    cfg.region, cfg.endpoint = "cn-hangzhou", lifecycle.status(emu.root)["oss_url"]
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(creds.access_key_id,
                                                                         creds.access_key_secret, token)
    cfg.retryer = oss.retry.NopRetryer()
    client = oss.Client(cfg)
    try:
        client.put_bucket(oss.PutBucketRequest(bucket="sts-bucket"))
    except oss.exceptions.OperationError as exc:
        if "BucketAlreadyExists" not in str(exc):
            raise
    return client.put_object(oss.PutObjectRequest(bucket="sts-bucket", key="k", body=b"v")).status_code


@pytest.mark.parametrize(("case", "code"), [
    ("subject", "AuthenticationFail.NoPermission"),
    ("expired", "AuthenticationFail.OIDCToken.Expired"),
    ("other-key", "AuthenticationFail.OIDCToken.InvalidSignature"),
    ("audience", "AuthenticationFail.OIDCToken.AudienceNotMatch"),
    ("issuer", "AuthenticationFail.OIDCToken.IssuerNotMatch"),
    ("not-yet", "AuthenticationFail.OIDCToken.Invalid"),
    ("garbage", "AuthenticationFail.OIDCToken.Invalid"),
], ids=lambda v: v)
def test_each_refusal_has_the_documented_code(emu, issuer, federation, case, code):
    token = {
        "subject": lambda: issuer.token(sub="repo:evil/fork:ref:refs/heads/main"),
        "expired": lambda: issuer.token(sub=SUB, lifetime_s=-60),
        "other-key": lambda: issuer.token(sub=SUB, key=other_key()),
        "audience": lambda: issuer.token(sub=SUB, aud="https://github.com/acme"),
        "issuer": lambda: issuer.token(sub=SUB, issuer="https://token.actions.githubusercontent.com"),
        "not-yet": lambda: issuer.token(sub=SUB, not_before_s=600),
        "garbage": lambda: "not-a-jwt",
    }[case]()
    with pytest.raises(ClientException) as refused:
        _assume(emu, federation, token)
    assert refused.value.code == code
    assert refused.value.status_code in (401, 400)


def test_unknown_role_provider_and_bad_parameters(emu, issuer, federation):
    role_arn, provider_arn = federation
    token = issuer.token(sub=SUB)
    cases = [((role_arn.replace("agentrun-deployer", "nobody"), provider_arn), "EntityNotExist.Role"),
             ((role_arn, provider_arn.replace("github", "gitlab")), "AuthenticationFail.NoPermission"),
             (("acs:ram::1:role", provider_arn), "InvalidParameter.RoleArn")]
    for pair, code in cases:
        with pytest.raises(ClientException) as refused:
            _assume(emu, pair, token)
        assert refused.value.code == code
    with pytest.raises(ClientException) as long_session:
        _assume(emu, federation, token, duration_seconds=7 * 3600)
    assert long_session.value.code == "InvalidParameter.DurationSeconds"


def test_the_certificate_is_pinned(emu, tmp_path):
    with oidc_issuer(tmp_path) as impostor:  # same URL shape, another certificate
        config = emu.openapi_config()
        provider = ImsClient(config).create_oidcprovider(ims.CreateOIDCProviderRequest(
            oidcprovider_name="pinned", issuer_url=impostor.url, fingerprints="0" * 40,
            client_ids="sts.aliyuncs.com")).body.oidcprovider
        role = RamClient(config).create_role(ram.CreateRoleRequest(
            role_name="pinned-role", assume_role_policy_document=json.dumps({"Version": "1", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Federated": [provider.arn]}}]}))).body.role
        with pytest.raises(ClientException) as refused:
            _assume(emu, (role.arn, provider.arn), impostor.token(sub=SUB))
        assert refused.value.code == "AuthenticationFail.OIDCToken.HttpsUrlInvalid"


def test_registration_is_validated(emu):
    config = emu.openapi_config()
    cases = [(dict(issuer_url="http://plain.example", fingerprints="a" * 40), "InvalidParameter.IssuerUrl"),
             (dict(issuer_url="https://x.example", fingerprints="not-hex"), "InvalidParameter.Fingerprints"),
             (dict(issuer_url="https://x.example", fingerprints="a" * 40, client_ids=""), "InvalidParameter.ClientIds")]
    for fields, code in cases:
        request = ims.CreateOIDCProviderRequest(oidcprovider_name="bad", **{"client_ids": "sts.aliyuncs.com", **fields})
        with pytest.raises(ClientException) as refused:
            ImsClient(config).create_oidcprovider(request)
        assert refused.value.code == code
    with pytest.raises(ClientException) as malformed:
        RamClient(config).create_role(ram.CreateRoleRequest(role_name="bad", assume_role_policy_document="{nope"))
    assert malformed.value.code == "MalformedPolicyDocument"
    with pytest.raises(ClientException) as missing:
        ImsClient(config).get_oidcprovider(ims.GetOIDCProviderRequest(oidcprovider_name="nobody"))
    assert missing.value.code == "EntityNotExist.OIDCProvider"
