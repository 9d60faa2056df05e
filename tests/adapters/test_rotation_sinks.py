"""Each rotation sink against a local server of its platform's documented API: write, repeat,
read back, and the refusals (wrong token, missing target, missing crumb) as exit-code errors."""

from __future__ import annotations

import pytest

from agentrun_tasks.adapters.sinks import open_sink
from agentrun_tasks.core.errors import ConfigError, CredentialError, ResourceFailedError
from agentrun_tasks.core.retry import RetryPolicy
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.core.sinks import parse
from agentrun_tasks.testing.kms import KmsFake
from agentrun_tasks.testing.platforms import BitbucketFake, CircleCIFake, GitHubFake, GitLabFake, JenkinsFake

KEY_ID, SECRET = "LTAIFAKEsinktest000001", Secret("sinkTestSecretValue+/=0123456789", source="test")
ID_VAR, SECRET_VAR = "ALIYUN_ACCESS_KEY_ID_PROD", "ALIYUN_ACCESS_KEY_SECRET_PROD"
PAIR_VAR, PAIR = "ALIYUN_ACCESS_KEY_PAIR_PROD", f"{KEY_ID}:{SECRET.reveal()}"


class Creds:
    access_key_id = Secret("LTAIFAKErotator0000001")
    access_key_secret = Secret("rotatorSecretValue000001")
    security_token = None


def sink(entry: dict, environ: dict, **kw):
    spec = parse([entry], profile="prod", env_name="prod", where="envs/prod.yaml")[0]
    return open_sink(spec, root=".", environ=environ, region="cn-hangzhou", policy=RetryPolicy(attempts=1), **kw)


def written(s) -> None:
    s.preflight()
    s.write(KEY_ID, SECRET)
    s.write(KEY_ID, SECRET)  # repeating a write (a rerun after a crash) is harmless


def test_github_sealed_boxes_decrypt_to_the_key_in_both_scopes():
    with GitHubFake("tok").serving() as gh:
        for extra, target in (({}, "org/app"), ({"environment": "prod"}, "org/app environment prod")):
            s = sink({"type": "github", "repo": "org/app", "api_url": gh.url, **extra}, {"GITHUB_TOKEN": "tok"})
            written(s)
            assert gh.values[target] == {PAIR_VAR: PAIR}  # one secret: one PUT replaces the pair whole
            assert s.read_back(KEY_ID, SECRET) is None
        with pytest.raises(CredentialError, match="token was refused"):
            sink({"type": "github", "repo": "org/app", "api_url": gh.url}, {"GITHUB_TOKEN": "bad"}).preflight()
        with pytest.raises(ConfigError, match="not found"):
            sink({"type": "github", "repo": "org/other", "api_url": gh.url}, {"GITHUB_TOKEN": "tok"}).preflight()


def test_gitlab_project_and_group_masked_values_in_the_body_read_back():
    with GitLabFake("tok").serving() as gl:
        s = sink({"type": "gitlab", "project": "42", "environment_scope": "prod", "url": gl.url},
                 {"GITLAB_TOKEN": "tok"})
        written(s)
        assert gl.values["projects 42 scope prod"] == {PAIR_VAR: PAIR}
        assert s.read_back(KEY_ID, SECRET) is True
        assert s.read_back(KEY_ID, Secret("other-value-0001")) is False
        assert not any(SECRET.reveal() in r for r in gl.requests)  # never in a URL
        g = sink({"type": "gitlab", "group": "7", "url": gl.url}, {"GITLAB_TOKEN": "tok"})
        written(g)
        assert gl.values["groups 7 scope *"][PAIR_VAR] == PAIR
        with pytest.raises(CredentialError):
            sink({"type": "gitlab", "project": "42", "url": gl.url}, {"GITLAB_TOKEN": "bad"}).preflight()


def test_jenkins_updates_an_existing_credential_with_the_crumb():
    env = {"JENKINS_USER": "rotator", "JENKINS_TOKEN": "tok"}
    with JenkinsFake("tok", user="rotator").serving() as jk:
        s = sink({"type": "jenkins", "url": jk.url, "credential_id": "aliyun"}, env)
        written(s)
        assert jk.values["aliyun"] == {"username": KEY_ID, "password": SECRET.reveal()}
        assert s.read_back(KEY_ID, SECRET) is None
        assert s.read_back("LTAIother", SECRET) is False
        with pytest.raises(ConfigError, match="create a 'Username with password' credential"):
            sink({"type": "jenkins", "url": jk.url, "credential_id": "missing"}, env).preflight()
        jk.crumbs.clear()
        s._crumb = lambda: {}  # a client that skips the crumb is refused, as Jenkins refuses it
        with pytest.raises(CredentialError):
            s.write(KEY_ID, SECRET)


def test_bitbucket_repository_and_deployment_variables_are_secured():
    with BitbucketFake("tok").serving() as bb:
        for extra, target in (({}, "team/app"), ({"deployment": "{env-1}"}, "team/app deployment {env-1}")):
            s = sink({"type": "bitbucket", "workspace": "team", "repo": "app", "api_url": bb.url, **extra},
                     {"BITBUCKET_TOKEN": "tok"})
            written(s)
            assert bb.values[target] == {PAIR_VAR: PAIR}
            assert all(v["secured"] for v in bb.meta[target].values())
            assert len(bb.meta[target]) == 1
            assert s.read_back(KEY_ID, SECRET) is None


def test_circleci_project_reads_back_the_last_four_and_contexts_are_written():
    with CircleCIFake("tok").serving() as cc:
        s = sink({"type": "circleci", "project": "gh/org/app", "api_url": cc.url}, {"CIRCLECI_TOKEN": "tok"})
        written(s)
        assert s.read_back(KEY_ID, SECRET) is True
        assert s.read_back(KEY_ID, Secret("another-secret-zzzz")) is False
        c = sink({"type": "circleci", "context": "ctx", "api_url": cc.url}, {"CIRCLECI_TOKEN": "tok"})
        written(c)
        assert cc.values["context ctx"] == {PAIR_VAR: PAIR}
        assert c.read_back(KEY_ID, SECRET) is None


def test_kms_put_secret_value_signed_by_the_sdk_and_read_back():
    secrets = {Creds.access_key_id.reveal(): Creds.access_key_secret.reveal()}
    with KmsFake(secrets.get, secrets=("agentrun/prod",)).serving() as kms:
        entry = {"type": "kms", "secret_name": "agentrun/prod", "endpoint": kms.endpoint, "protocol": "http"}
        s = sink(entry, {}, credentials=Creds)
        written(s)
        assert kms.current("agentrun/prod") == {"AccessKeyId": KEY_ID, "AccessKeySecret": SECRET.reveal()}
        assert len(kms.versions["agentrun/prod"]) == 1
        assert s.read_back(KEY_ID, SECRET) is True
        with pytest.raises(ConfigError, match="ResourceExist"):  # the same version, another value: refused
            s.write(KEY_ID, Secret("another-secret-value-0001"))
        assert kms.current("agentrun/prod")["AccessKeySecret"] == SECRET.reveal()
        with pytest.raises(ConfigError):
            sink({**entry, "secret_name": "missing"}, {}, credentials=Creds).preflight()
        secrets[Creds.access_key_id.reveal()] = "another-secret"
        with pytest.raises(CredentialError):
            s.preflight()


def test_dotenv_is_atomic_0600_and_keeps_other_lines(tmp_path):
    path = tmp_path / ".env.prod"
    path.write_text("OTHER=1\n")
    spec = parse([{"type": "dotenv"}], profile="prod", env_name="prod", where="x")[0]
    s = open_sink(spec, root=tmp_path, environ={})
    written(s)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().startswith("OTHER=1\n")
    assert s.read_back(KEY_ID, SECRET) is True


def test_keyring_keeps_the_account_id(memory_keyring):
    from agentrun_tasks.adapters.keyring_store import KeyStore

    KeyStore().set("prod", {"access_key_id": "LTAIold", "access_key_secret": "old", "account_id": "123"})
    s = sink({"type": "keyring"}, {})
    written(s)
    assert KeyStore().get("prod") == {"access_key_id": KEY_ID, "access_key_secret": SECRET.reveal(),
                                      "account_id": "123"}
    assert s.read_back(KEY_ID, SECRET) is True


def test_yunxiao_variable_group_replaced_with_encrypted_values_in_the_body():
    from agentrun_tasks.testing.platforms import YunxiaoFake

    with YunxiaoFake("tok", groups=("1234", "99")).serving() as yx:
        entry = {"type": "yunxiao", "group": "1234", "organization": "org", "url": yx.url}
        yx.groups["1234"]["variables"] = [{"name": "REGION", "value": "cn-hangzhou", "isEncrypted": False}]
        s = sink(entry, {"YUNXIAO_TOKEN": "tok"})
        written(s)
        assert yx.values["1234"] == {"REGION": "cn-hangzhou", ID_VAR: KEY_ID, SECRET_VAR: SECRET.reveal()}
        assert all(v["isEncrypted"] for v in yx.groups["1234"]["variables"] if v["name"] != "REGION")
        assert s.read_back(KEY_ID, SECRET) is None
        assert not any(SECRET.reveal() in r for r in yx.requests)
        yx.groups["99"]["variables"] = [{"name": "OTHER_SECRET", "value": "x" * 12, "isEncrypted": True}]
        with pytest.raises(ConfigError, match="a variable group of its own"):
            sink({**entry, "group": "99"}, {"YUNXIAO_TOKEN": "tok"}).preflight()
        with pytest.raises(CredentialError):
            sink(entry, {"YUNXIAO_TOKEN": "bad"}).preflight()


def test_github_environment_names_are_url_encoded_and_secret_names_checked():
    with GitHubFake("tok").serving() as gh:
        s = sink({"type": "github", "repo": "org/app", "environment": "prod/cn", "api_url": gh.url},
                 {"GITHUB_TOKEN": "tok"})
        written(s)
        assert gh.values["org/app environment prod/cn"] == {PAIR_VAR: PAIR}
        assert any("/environments/prod%2Fcn/" in r for r in gh.requests)
        for bad in ("GITHUB_KEY", "1KEY", "MY-KEY"):  # as GitHub refuses them (422)
            named = sink({"type": "github", "repo": "org/app", "api_url": gh.url, "pair_var": bad},
                         {"GITHUB_TOKEN": "tok"})
            with pytest.raises(ResourceFailedError, match="422"):
                named.write(KEY_ID, SECRET)


@pytest.mark.parametrize("kind", ["github", "gitlab", "bitbucket", "circleci"])
def test_separate_variables_a_sink_already_has_follow_the_pair(kind):
    # A setup made by hand holds ID/SECRET: they are updated after the pair, so a job that maps only
    # them keeps working; a setup without them gets the one pair variable only.
    fake = {"github": GitHubFake, "gitlab": GitLabFake, "bitbucket": BitbucketFake, "circleci": CircleCIFake}[kind]("tok")
    environ = {"GITHUB_TOKEN": "tok", "GITLAB_TOKEN": "tok", "BITBUCKET_TOKEN": "tok", "CIRCLECI_TOKEN": "tok"}
    entry, target = {"github": ({"repo": "org/app"}, "org/app"), "gitlab": ({"project": "42"}, "projects 42 scope *"),
                     "bitbucket": ({"workspace": "t", "repo": "a"}, "t/a"),
                     "circleci": ({"project": "gh/o/a"}, "project gh/o/a")}[kind]
    url = "url" if kind == "gitlab" else "api_url"
    with fake.serving():
        s = sink({"type": kind, url: fake.url, **entry}, environ)
        s.write("LTAIFAKEold0000000001", Secret("oldSecretValue00000001"))
        assert set(fake.values[target]) == {PAIR_VAR}
        old = {ID_VAR: "LTAIFAKEold0000000001", SECRET_VAR: "oldSecretValue00000001"}
        if kind == "bitbucket":  # made through the API, as a person would in the UI
            for name, value in old.items():
                fake_sink = sink({"type": kind, url: fake.url, **entry, "pair_var": name}, environ)
                fake_sink.api.call("POST", fake_sink.base, json={"key": name, "value": value, "secured": True})
        else:
            fake.values[target].update(old)
        s.write(KEY_ID, SECRET)
        assert fake.values[target] == {PAIR_VAR: PAIR, ID_VAR: KEY_ID, SECRET_VAR: SECRET.reveal()}


def test_gitlab_same_key_in_two_scopes_is_never_confused():
    with GitLabFake("tok").serving() as gl:
        gl.values["projects 42 scope dev"] = {PAIR_VAR: "LTAIdevkey:devsecret"}
        gl.values["projects 42 scope prod"] = {PAIR_VAR: "LTAIprodold:prodold"}
        s = sink({"type": "gitlab", "project": "42", "environment_scope": "prod", "url": gl.url},
                 {"GITLAB_TOKEN": "tok"})
        written(s)
        assert gl.values["projects 42 scope dev"] == {PAIR_VAR: "LTAIdevkey:devsecret"}
        assert gl.values["projects 42 scope prod"] == {PAIR_VAR: PAIR}
        assert s.held_id() == KEY_ID


def test_gitlab_group_before_16_9_is_refused_when_another_scope_holds_the_key():
    with GitLabFake("tok", version="16.8.1").serving() as gl:
        gl.values["groups 7 scope dev"] = {PAIR_VAR: "LTAIdevkey:devsecret"}
        entry = {"type": "gitlab", "group": "7", "environment_scope": "prod", "url": gl.url}
        with pytest.raises(ConfigError, match=r"16.9"):
            sink(entry, {"GITLAB_TOKEN": "tok"}).preflight()
        assert gl.values == {"groups 7 scope dev": {PAIR_VAR: "LTAIdevkey:devsecret"}}
        gl.version = "16.9.0"
        written(sink(entry, {"GITLAB_TOKEN": "tok"}))
        assert gl.values["groups 7 scope dev"] == {PAIR_VAR: "LTAIdevkey:devsecret"}
        assert gl.values["groups 7 scope prod"] == {PAIR_VAR: PAIR}


def test_the_gitlab_fake_refuses_an_ambiguous_key_as_gitlab_does():
    import httpx

    with GitLabFake("tok").serving() as gl:
        gl.values["projects 42 scope dev"] = {"K": "a"}
        gl.values["projects 42 scope prod"] = {"K": "b"}
        answer = httpx.put(f"{gl.url}/api/v4/projects/42/variables/K", json={"value": "c"},
                           headers={"PRIVATE-TOKEN": "tok"})
        assert answer.status_code == 409
        assert gl.values["projects 42 scope dev"] == {"K": "a"}


@pytest.mark.parametrize("where", ["proc", "through-a-file", "a-folder", "read-only-folder"])
def test_a_dotenv_path_that_cannot_hold_a_temp_file_fails_preflight(tmp_path, where):
    import os

    (tmp_path / "file").write_text("A=1\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "ro").mkdir()
    path = {"proc": "/proc/version", "through-a-file": "file/.env.prod", "a-folder": "folder",
            "read-only-folder": "ro/.env.prod"}[where]
    if where == "read-only-folder":
        if os.geteuid() == 0:
            pytest.skip("root writes a read-only folder")
        (tmp_path / "ro").chmod(0o500)
    spec = parse([{"type": "dotenv", "path": path}], profile="prod", env_name="prod", where="x")[0]
    with pytest.raises(ConfigError, match="cannot be written"):
        open_sink(spec, root=tmp_path, environ={}).preflight()
    assert not [p for p in (tmp_path / "ro").iterdir()] if where == "read-only-folder" else True


def test_every_platform_sink_writes_the_key_in_one_request():
    # One request per write: a job reading the sink between two requests cannot exist.
    from agentrun_tasks.testing.platforms import YunxiaoFake

    fakes = {"github": GitHubFake("tok"), "gitlab": GitLabFake("tok"), "bitbucket": BitbucketFake("tok"),
             "circleci": CircleCIFake("tok"), "jenkins": JenkinsFake("tok", user="rotator"),
             "yunxiao": YunxiaoFake("tok")}
    environ = {"GITHUB_TOKEN": "tok", "GITLAB_TOKEN": "tok", "BITBUCKET_TOKEN": "tok", "CIRCLECI_TOKEN": "tok",
               "JENKINS_USER": "rotator", "JENKINS_TOKEN": "tok", "YUNXIAO_TOKEN": "tok"}
    entries = {"github": [{"repo": "org/app"}, {"repo": "org/app", "environment": "prod"}],
               "gitlab": [{"project": "42"}, {"group": "7", "environment_scope": "prod"}],
               "bitbucket": [{"workspace": "t", "repo": "a"}, {"workspace": "t", "repo": "a", "deployment": "{e}"}],
               "circleci": [{"project": "gh/o/a"}, {"context": "c1"}],
               "jenkins": [{"credential_id": "aliyun"}], "yunxiao": [{"group": "1234", "organization": "o"}]}
    for kind, fake in fakes.items():
        with fake.serving():
            url_field = {"github": "api_url", "bitbucket": "api_url", "circleci": "api_url"}.get(kind, "url")
            for extra in entries[kind]:
                s = sink({"type": kind, url_field: fake.url, **extra}, environ)
                for _ in range(2):  # a first write and a rewrite
                    seen = len(fake.requests)
                    s.write(KEY_ID, SECRET)
                    writes = [r for r in fake.requests[seen:] if not r.startswith("GET")]
                    assert len(writes) == 1, (kind, extra, writes)


def test_a_key_found_as_one_pair_variable_goes_back_as_one(tmp_path):
    from agentrun_tasks.core.sinks import from_source

    (tmp_path / ".env.prod").write_text("ALIYUN_ACCESS_KEY_PAIR_PROD='LTAIold:oldsecret'\n")
    entries = from_source({"access_key_id": ".env.prod ALIYUN_ACCESS_KEY_PAIR_PROD",
                           "access_key_secret": ".env.prod ALIYUN_ACCESS_KEY_PAIR_PROD"}, "prod")
    s = open_sink(parse(entries, profile="prod", env_name="prod", where="x")[0], root=tmp_path, environ={})
    assert s.held_id() == "LTAIold"
    written(s)
    assert (tmp_path / ".env.prod").read_text() == f"ALIYUN_ACCESS_KEY_PAIR_PROD='{PAIR}'\n"
    assert s.read_back(KEY_ID, SECRET) is True
    assert s.held_id() == KEY_ID
