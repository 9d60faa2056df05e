"""Keyless CI: an environment with credentials.oidc deploys from GitHub Actions' variables alone
(no AccessKey anywhere), against the emulator with the provider and role registered through the
official IMS and RAM clients and a local HTTPS issuer; each refused token exits 3 in one paragraph."""

from __future__ import annotations

import json

import pytest
from alibabacloud_ram20150501 import models as ram
from alibabacloud_ram20150501.client import Client as RamClient

from agentrun_tasks.emulator.state import State
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.oidc_issuer import oidc_issuer, other_key, register_federation
from agentrun_tasks.testing.project import clean_environ, cloud_env_file

SUB = "repo:acme/agent:environment:prod"


@pytest.fixture
def keyless(project, tmp_path):
    """(project, cloud emulator, issuer, role_arn, provider_arn) with envs/ci.yaml using OIDC."""
    with running_emulator(project.root / ".cloud") as cloud, oidc_issuer(tmp_path) as issuer:
        role_arn, provider_arn = register_federation(cloud.openapi_config(), issuer, sub="repo:acme/agent:*")
        # Release state in the cloud's OSS, which then takes the role's temporary credentials too.
        rest = (f"credentials:\n  oidc:\n    role_arn: {role_arn}\n    provider_arn: {provider_arn}\n"
                + cloud.state_bucket("keyless-state"))
        (project.root / "envs" / "ci.yaml").write_text(cloud_env_file(cloud.port, "keyless-demo", rest=rest))
        yield project, cloud, issuer, role_arn, provider_arn


def _github_env(issuer, **extra):
    """A GitHub Actions job's environment: no ALIYUN_/ALIBABA_CLOUD_ key at all."""
    env = clean_environ(GITHUB_ACTIONS="true", CI="true", GITHUB_RUN_ID="4242", GITHUB_REF_NAME="main",
                        GITHUB_REF="refs/heads/main", SSL_CERT_FILE=str(issuer.ca_file), **issuer.github_env(), **extra)
    assert not [k for k in env if k.startswith(("ALIYUN_", "ALIBABA_CLOUD_"))]
    return env


def test_keyless_deploy_from_github_actions_variables(keyless):
    project, cloud, issuer, role_arn, _ = keyless
    env = _github_env(issuer)
    deployed = project.invoke("deploy", "--env", "ci", "--json", env=env)
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["url"].startswith(f"http://127.0.0.1:{cloud.port}/")
    released = project.invoke("release", "--env", "ci", env=env)
    assert released.returncode == 0, released.stderr
    assert "state_bucket" not in released.stderr  # the state went to OSS, signed with the role's session
    assert [p for p in (cloud.root / ".agentrun" / "local" / "oss").rglob("*") if p.is_file() and "keyless-state" in str(p)]
    shown = project.invoke("credentials.show", "--env", "ci", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["source"], data["role_arn"]) == ("oidc", role_arn)
    assert data["expiration"].endswith("Z")
    assert data["access_key_id"].startswith("STS.")
    assert data["session_name"] == "agentrun-github-4242"
    checked = project.invoke("credentials.check", "--env", "ci", "--json", env=env)
    assert checked.returncode == 0, checked.stderr
    identity = json.loads(checked.stdout)
    assert identity["IdentityType"] == "AssumedRoleUser"
    assert identity["Arn"] == f"{role_arn}/agentrun-github-4242"
    human = project.invoke("credentials.show", "--env", "ci", env=env)
    assert "OIDC, token from GitHub Actions' ID-token endpoint" in human.stdout
    # The audience GitHub was asked for is STS's, and no secret reached the output or a file.
    assert {i["audience"] for i in issuer.issued} == {"sts.aliyuncs.com"}
    sts_secrets = [k["secret"] for k in State(cloud.root).keys.values() if k.get("role")]
    secrets = [issuer.request_token, *(i["token"] for i in issuer.issued), *sts_secrets]
    output = "".join(p.stdout + p.stderr for p in (deployed, released, checked, shown, human))
    # In GitHub Actions each one is masked (::add-mask::, which the runner swallows) before use.
    masked = {line.removeprefix("::add-mask::") for line in output.splitlines() if line.startswith("::add-mask::")}
    assert set(sts_secrets) <= masked
    assert {i["token"] for i in issuer.issued} <= masked
    shown_lines = "\n".join(line for line in output.splitlines() if not line.startswith("::add-mask::"))
    assert sts_secrets
    assert not [s for s in secrets if s in shown_lines]
    local = project.root / ".agentrun"
    written = [p for p in local.rglob("*") if p.is_file()] if local.exists() else []
    assert not [p for p in written for s in secrets if s.encode() in p.read_bytes()]


@pytest.mark.parametrize(("case", "said"), [
    ("subject", "trust policy does not accept this token"),
    ("expired", "the OIDC token has expired"),
    ("other-key", "not signed by a key the provider publishes"),
    ("audience", "audience is not a client id of the provider"),
    ("no-role", "the role does not exist"),
], ids=lambda v: v)
def test_refused_tokens_exit_3_in_one_paragraph(keyless, tmp_path, case, said):
    project, _, issuer, role_arn, _ = keyless
    token = {"subject": lambda: issuer.token(sub="repo:evil/fork:ref:refs/heads/main"),
             "expired": lambda: issuer.token(sub=SUB, lifetime_s=-60),
             "other-key": lambda: issuer.token(sub=SUB, key=other_key()),
             "audience": lambda: issuer.token(sub=SUB, aud="https://github.com/acme"),
             "no-role": lambda: issuer.token(sub=SUB)}[case]()
    if case == "no-role":
        role_arn = role_arn.replace("agentrun-deployer", "nobody")
        ci_yaml = project.root / "envs" / "ci.yaml"
        ci_yaml.write_text(ci_yaml.read_text().replace("role/agentrun-deployer", "role/nobody"))
    token_file = tmp_path / "token"
    token_file.write_text(token)
    env = _github_env(issuer)
    for name in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        env.pop(name)
    ci_yaml = project.root / "envs" / "ci.yaml"
    text = ci_yaml.read_text()
    ci_yaml.write_text(text.replace("    provider_arn:", f"    token_file: {token_file}\n    provider_arn:", 1))
    refused = project.invoke("deploy", "--env", "ci", env=env)
    assert refused.returncode == 3, refused.stderr
    assert "Traceback" not in refused.stderr
    assert said in refused.stderr
    assert role_arn in refused.stderr
    visible = [line for line in (refused.stdout + refused.stderr).splitlines()
               if line.strip() and not line.startswith("::add-mask::")]  # the runner swallows those
    assert not [line for line in visible if token in line]
    errors = [line for line in visible if role_arn in line]
    assert len(errors) == 1, refused.stderr  # one paragraph, said once


def test_an_oidc_environment_outside_ci_without_a_token_exits_3(keyless):
    project, *_ = keyless
    refused = project.invoke("deploy", "--env", "ci", env=clean_environ())
    assert refused.returncode == 3
    assert "has no OIDC token" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_doctor_reads_the_trust_policy_and_warns_when_it_is_open(keyless):
    project, cloud, issuer, _, provider_arn = keyless
    open_policy = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                  "Principal": {"Federated": [provider_arn]}}]}
    open_role = RamClient(cloud.openapi_config()).create_role(ram.CreateRoleRequest(
        role_name="open-deployer", assume_role_policy_document=json.dumps(open_policy))).body.role
    oidc = f"credentials:\n  oidc:\n    role_arn: {open_role.arn}\n    provider_arn: {provider_arn}\n"
    (project.root / "envs" / "open.yaml").write_text(cloud_env_file(cloud.port, "keyless-open", rest=oidc))
    env = _github_env(issuer)

    def checks(name: str) -> dict:
        done = project.invoke("doctor", "--env", name, "--json", env=env)
        assert "Traceback" not in done.stderr
        return {c["check"]: c for c in json.loads(done.stdout)["checks"]}

    restricted = checks("ci")
    assert restricted["trust policy"]["status"] == "ok"
    assert restricted["credentials"]["detail"].startswith(
        "temporary credentials of acs:ram::")
    assert restricted["least privilege"]["status"] == "skip"
    opened = checks("open")["trust policy"]
    assert opened["status"] == "warn"
    assert "oidc:sub is not restricted" in opened["detail"]
    assert "audience (oidc:aud) is open" in opened["detail"]


def test_assume_role_from_a_key_of_another_account(keyless):
    """credentials: {role_arn, external_id}: the key the chain finds only signs AssumeRole."""
    project, cloud, *_ = keyless
    policy = {"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [f"acs:ram::{cloud.account_id}:root"]},
        "Condition": {"StringEquals": {"sts:ExternalId": "tools-42"}}}]}
    role = RamClient(cloud.openapi_config()).create_role(ram.CreateRoleRequest(
        role_name="prod-deployer", assume_role_policy_document=json.dumps(policy))).body.role
    for name, external in (("tools", "tools-42"), ("wrong", "guess")):
        rest = f"credentials: {{role_arn: '{role.arn}', external_id: {external}}}\n"
        (project.root / "envs" / f"{name}.yaml").write_text(cloud_env_file(cloud.port, f"tools-{name}", rest=rest))
    secret = cloud.access_key_secret.reveal()
    env = clean_environ(**{f"ALIYUN_ACCESS_KEY_{k}_{e}": v for e in ("TOOLS", "WRONG")
                           for k, v in (("ID", cloud.access_key_id), ("SECRET", secret))})
    shown = project.invoke("credentials.show", "--env", "tools", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["source"], data["role_arn"]) == ("assume-role", role.arn)
    assert secret not in shown.stdout
    deployed = project.invoke("deploy", "--env", "tools", env=env)
    assert deployed.returncode == 0, deployed.stderr
    refused = project.invoke("deploy", "--env", "wrong", env=env)
    assert refused.returncode == 3
    assert "external_id" in refused.stderr
    assert "Traceback" not in refused.stderr
