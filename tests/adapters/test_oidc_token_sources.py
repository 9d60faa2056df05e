"""Reading the CI job's OIDC token: GitHub's endpoint over HTTPS (a local issuer speaking its
protocol), a variable, a file and a fake buildkite-agent; failures are exit 3 without the token."""

from __future__ import annotations

import os
import stat
import sys

import jwt
import pytest

from agentrun_tasks.adapters.federation import read_token
from agentrun_tasks.core.errors import CredentialError
from agentrun_tasks.core.federation import TokenSource
from agentrun_tasks.testing.oidc_issuer import oidc_issuer


def test_github_endpoint_with_the_audience(tmp_path, monkeypatch):
    with oidc_issuer(tmp_path) as issuer:
        monkeypatch.setenv("SSL_CERT_FILE", str(issuer.ca_file))
        env = issuer.github_env()
        source = TokenSource("github", env["ACTIONS_ID_TOKEN_REQUEST_URL"])
        token = read_token(source, "sts.aliyuncs.com", env)
        claims = jwt.decode(token.reveal(), options={"verify_signature": False})
        assert claims["aud"] == "sts.aliyuncs.com"
        assert claims["sub"] == issuer.github_subject
        assert token.reveal() not in repr(token)
        with pytest.raises(CredentialError) as refused:
            read_token(source, "sts.aliyuncs.com", {**env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "stale"})
        assert refused.value.exit_code == 3
        assert "id-token: write" in str(refused.value)
        assert "stale" not in str(refused.value)


def test_github_endpoint_with_an_untrusted_certificate(tmp_path):
    with oidc_issuer(tmp_path) as issuer:  # SSL_CERT_FILE not set: the system CAs do not know it
        env = issuer.github_env()
        with pytest.raises(CredentialError, match="could not be read"):
            read_token(TokenSource("github", env["ACTIONS_ID_TOKEN_REQUEST_URL"]), "sts.aliyuncs.com", env)


def test_variable_and_file(tmp_path):
    assert read_token(TokenSource("env", "CIRCLE_OIDC_TOKEN_V2"), "x", {"CIRCLE_OIDC_TOKEN_V2": " a.b.c\n"}).reveal() \
        == "a.b.c"
    with pytest.raises(CredentialError, match="is empty"):
        read_token(TokenSource("env", "BITBUCKET_STEP_OIDC_TOKEN"), "x", {"BITBUCKET_STEP_OIDC_TOKEN": ""})
    path = tmp_path / "token"
    path.write_text("h.p.s\n")
    assert read_token(TokenSource("file", str(path)), "x", {}).reveal() == "h.p.s"
    with pytest.raises(CredentialError, match="cannot be read"):
        read_token(TokenSource("file", str(tmp_path / "missing")), "x", {})


def test_buildkite_agent_is_asked_with_the_audience(tmp_path):
    agent = tmp_path / "buildkite-agent"
    agent.write_text(f"#!{sys.executable}\nimport sys\nassert sys.argv[1:4] == ['oidc', 'request-token', '--audience']\n"
                     "print('bk.' + sys.argv[4] + '.sig')\n")
    agent.chmod(agent.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "BUILDKITE_AGENT_ACCESS_TOKEN": "t"}
    assert read_token(TokenSource("buildkite", "buildkite-agent"), "sts.aliyuncs.com", env).reveal() == \
        "bk.sts.aliyuncs.com.sig"
