"""credentials.sinks entries: validated before anything is created, with names the journal keeps."""

from __future__ import annotations

import pytest

from agentrun_tasks.core.errors import ConfigError, CredentialError
from agentrun_tasks.core.sinks import from_source, parse, token


def one(entry: dict):
    return parse([entry], profile="prod-cn", env_name="prod", where="envs/prod.yaml")[0]


def test_defaults_follow_the_profile_and_environment():
    spec = one({"type": "github", "repo": "org/app", "environment": "prod"})
    assert spec.name == "github:org/app environment prod"
    assert spec["pair_var"] == "ALIYUN_ACCESS_KEY_PAIR_PROD_CN"  # one variable: written in one request
    assert (one({"type": "dotenv"})["id_var"], one({"type": "dotenv"})["secret_var"]) == (
        "ALIYUN_ACCESS_KEY_ID_PROD_CN", "ALIYUN_ACCESS_KEY_SECRET_PROD_CN")
    assert one({"type": "dotenv"})["path"] == ".env.prod"
    assert one({"type": "keyring"})["profile"] == "prod-cn"
    assert one({"type": "gitlab", "project": "g/p"})["environment_scope"] == "*"


@pytest.mark.parametrize(("entry", "says"), [
    ({"type": "githb", "repo": "o/r"}, "Did you mean 'github'"),
    ({"repo": "o/r"}, "unknown sink type None"),
    ({"type": "github", "repo": "o/r", "enviroment": "prod"}, "Did you mean 'environment'"),
    ({"type": "github"}, "needs repo"),
    ({"type": "gitlab", "project": "1", "group": "2"}, "project or group (exactly one)"),
    ({"type": "circleci"}, "project or context (exactly one)"),
    ({"type": "jenkins", "url": "https://ci"}, "needs credential_id"),
], ids=["typo-type", "no-type", "typo-field", "missing-repo", "gitlab-both", "circleci-neither", "jenkins-no-id"])
def test_bad_entries_are_config_errors_naming_the_entry(entry, says):
    with pytest.raises(ConfigError) as err:
        one(entry)
    assert says in str(err.value)
    assert "envs/prod.yaml: credentials.sinks[0]" in str(err.value)


def test_the_same_sink_twice_is_refused():
    with pytest.raises(ConfigError, match="twice"):
        parse([{"type": "keyring"}, {"type": "keyring"}], profile="p", env_name="p", where="x")


def test_token_from_the_named_variable_or_the_github_cli_one():
    spec = one({"type": "github", "repo": "o/r"})
    assert token(spec, {"GH_TOKEN": "from-gh-cli"}).reveal() == "from-gh-cli"
    with pytest.raises(CredentialError, match="GITHUB_TOKEN"):
        token(spec, {"GITHUB_TOKEN": "  "})


def test_without_sinks_the_key_goes_back_where_it_was_found():
    found = from_source({"access_key_id": ".env.prod ALIYUN_ACCESS_KEY_ID_PROD",
                         "access_key_secret": ".env.prod ALIYUN_ACCESS_KEY_SECRET_PROD"}, "prod")
    assert found == [{"type": "dotenv", "path": ".env.prod", "id_var": "ALIYUN_ACCESS_KEY_ID_PROD",
                      "secret_var": "ALIYUN_ACCESS_KEY_SECRET_PROD"}]
    assert from_source({"access_key_id": "keyring agentrun-tasks/prod"}, "prod") == [{"type": "keyring",
                                                                                        "profile": "prod"}]
    with pytest.raises(ConfigError, match="names none"):
        from_source({"access_key_id": "env ALIYUN_ACCESS_KEY_ID_PROD"}, "prod")

