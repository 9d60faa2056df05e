"""Which role an environment assumes and where its OIDC token comes from, per CI platform."""

from __future__ import annotations

import pytest

from agentrun_tasks.core import federation
from agentrun_tasks.core.cienv import CIContext
from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError, CredentialError

ROLE = "acs:ram::1234567890123456:role/agentrun-deployer"
PROVIDER = "acs:ram::1234567890123456:oidc-provider/github"
BASE = "region: cn-hangzhou\nagent:\n  name: demo\n  code: {src: code, language: python3.12, command: [python3, app.py]}\n"


def _env(tmp_path, credentials: str = "", name: str = "ci"):
    (tmp_path / "envs").mkdir(exist_ok=True)
    (tmp_path / "envs" / f"{name}.yaml").write_text(BASE + credentials)
    return load_env(name, root=tmp_path, environ={})


OIDC = f"credentials:\n  oidc:\n    role_arn: {ROLE}\n    provider_arn: {PROVIDER}\n"


@pytest.mark.parametrize(("platform", "environ", "kind", "where"), [
    ("github", {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/idtoken?api-version=2.0",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}, "github", "https://x/idtoken?api-version=2.0"),
    ("gitlab", {"ALIBABA_CLOUD_OIDC_TOKEN": "jwt"}, "env", "ALIBABA_CLOUD_OIDC_TOKEN"),
    ("circleci", {"CIRCLE_OIDC_TOKEN": "a", "CIRCLE_OIDC_TOKEN_V2": "b"}, "env", "CIRCLE_OIDC_TOKEN_V2"),
    ("bitbucket", {"BITBUCKET_STEP_OIDC_TOKEN": "jwt"}, "env", "BITBUCKET_STEP_OIDC_TOKEN"),
    ("buildkite", {"BUILDKITE_AGENT_ACCESS_TOKEN": "x"}, "buildkite", "buildkite-agent"),
    ("local", {"ALIBABA_CLOUD_OIDC_TOKEN_FILE": "/var/run/token"}, "file", "/var/run/token"),
], ids=lambda v: v if isinstance(v, str) and "/" not in v else None)
def test_token_source_per_platform(tmp_path, platform, environ, kind, where):
    plan = federation.plan(_env(tmp_path, OIDC), CIContext(platform, platform != "local", build_id="77"), environ)
    assert plan is not None
    assert plan.token == federation.TokenSource(kind, where)
    assert (plan.kind, plan.role_arn, plan.provider_arn, plan.audience, plan.duration_s) == (
        "oidc", ROLE, PROVIDER, "sts.aliyuncs.com", 3600)
    assert plan.session_name == f"agentrun-{platform}-77"


def test_settings_override_and_explicit_sources(tmp_path):
    text = OIDC + "    audience: my-aud\n    duration: 2h\n    session_name: release-1\n    token_env: MY_JWT\n"
    plan = federation.plan(_env(tmp_path, text), CIContext("gitlab", True), {"MY_JWT": "x"})
    assert (plan.audience, plan.duration_s, plan.session_name, plan.token) == (
        "my-aud", 7200, "release-1", federation.TokenSource("env", "MY_JWT"))


def test_standard_variables_need_all_three_and_never_reach_the_emulator(tmp_path):
    standard = {"ALIBABA_CLOUD_ROLE_ARN": ROLE, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE": "/t"}
    env, ci = _env(tmp_path), CIContext("local", False)
    plan = federation.plan(env, ci, standard)
    assert plan is not None
    assert plan.origin.startswith("ALIBABA_CLOUD_ROLE_ARN")
    assert plan.token.kind == "file"
    assert federation.plan(env, ci, {k: v for k, v in standard.items() if "FILE" not in k}) is None
    local = _env(tmp_path, "emulator: true\n", name="local")
    assert federation.plan(local, ci, standard) is None


def test_assume_role_from_a_key(tmp_path):
    env = _env(tmp_path, f"credentials:\n  role_arn: {ROLE}\n  external_id: abc\n")
    plan = federation.plan(env, CIContext("github", True, build_id="9"), {})
    assert (plan.kind, plan.external_id, plan.token, plan.provider_arn) == ("assume-role", "abc", None, None)


@pytest.mark.parametrize(("platform", "fix"), [
    ("github", "permissions: id-token: write"), ("gitlab", "id_tokens:"), ("bitbucket", "oidc: true"),
    ("circleci", "context"), ("local", "token_file"), ("jenkins", "use an AccessKey"),
])
def test_no_token_is_exit_3_naming_the_fix(tmp_path, platform, fix):
    with pytest.raises(CredentialError) as refused:
        federation.plan(_env(tmp_path, OIDC), CIContext(platform, platform != "local"), {})
    assert refused.value.exit_code == 3
    assert fix in str(refused.value)
    assert "ci.yaml" in str(refused.value)


@pytest.mark.parametrize("text", [
    "credentials:\n  oidc: {role_arn: nope, provider_arn: x}\n",
    f"credentials:\n  oidc: {{role_arn: {ROLE}}}\n",
    f"credentials:\n  oidc: {{role_arn: {ROLE}, provider_arn: {PROVIDER}, extra: 1}}\n",
], ids=["bad-arn", "no-provider", "unknown-key"])
def test_env_file_errors_are_exit_2(tmp_path, text):
    with pytest.raises(ConfigError):
        _env(tmp_path, text)


@pytest.mark.parametrize("duration", ["5m", "13h"])
def test_duration_bounds(tmp_path, duration):
    with pytest.raises(ConfigError):
        _env(tmp_path, OIDC + f"    duration: {duration}\n")

