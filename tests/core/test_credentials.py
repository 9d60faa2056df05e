"""The credential resolution chain, the keyring adapter and the test keyrings."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from dotenv import dotenv_values

from agentrun_tasks.adapters.keyring_store import KeyStore
from agentrun_tasks.core.credentials import (
    Credentials,
    MissingCredentials,
    env_suffix,
    resolve,
    write_dotenv,
)
from agentrun_tasks.core.errors import ConfigError, CredentialError
from agentrun_tasks.core.model import CredentialsConfig, EnvConfig
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.testing.keyring import FileKeyring


def make_env(tmp_path: Path, name="prod", *, profile=None, allow_dotenv=True, emulator=False, account_id=None) -> EnvConfig:
    (tmp_path / "envs").mkdir(exist_ok=True)
    return EnvConfig(
        name=name,
        path=tmp_path / "envs" / f"{name}.yaml",
        region="cn-hangzhou",
        driver="openapi",
        agent={"name": "demo"},
        emulator=emulator,
        credentials=CredentialsConfig(profile=profile or name, allow_dotenv=allow_dotenv, account_id=account_id),
    )


def dotenv(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    path.chmod(0o600)
    return path


def pair(prefix: str, suffix: str = "_PROD", tag: str = "x") -> dict[str, str]:
    return {f"{prefix}_ACCESS_KEY_ID{suffix}": f"LTAIFAKE{tag}id0000", f"{prefix}_ACCESS_KEY_SECRET{suffix}": f"FAKEsecret{tag}0000"}


# -- precedence across sources -------------------------------------------------------------

SOURCES = ["argument", "env", ".env.prod", ".env", "keyring"]


def plant(tmp_path, store, present):
    """Put a distinct key pair in each source named in ``present``; return (explicit, environ)."""
    explicit, environ = {}, {}
    if "argument" in present:
        explicit = {"access_key_id": "LTAIFAKEargument", "access_key_secret": "FAKEsecretargument"}
    if "env" in present:
        environ = pair("ALIYUN", tag="env")
    if ".env.prod" in present:
        dotenv(tmp_path / ".env.prod", **pair("ALIYUN", tag="dotenvprod"))
    if ".env" in present:
        dotenv(tmp_path / ".env", **pair("ALIYUN", tag="dotenv"))
    if "keyring" in present:
        store.set("prod", {"access_key_id": "LTAIFAKEkeyring", "access_key_secret": "FAKEsecretkeyring"})
    return explicit, environ


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (SOURCES, "argument access_key_id"),
        (SOURCES[1:], "env ALIYUN_ACCESS_KEY_ID_PROD"),
        (SOURCES[2:], ".env.prod ALIYUN_ACCESS_KEY_ID_PROD"),
        (SOURCES[3:], ".env ALIYUN_ACCESS_KEY_ID_PROD"),
        (SOURCES[4:], "keyring agentrun-tasks/prod"),
        (["env", "keyring"], "env ALIYUN_ACCESS_KEY_ID_PROD"),
        ([".env", "keyring"], ".env ALIYUN_ACCESS_KEY_ID_PROD"),
    ],
    ids=["all->argument", "env", "env-file-of-env", "dotenv", "keyring", "env-beats-keyring", "dotenv-beats-keyring"],
)
def test_chain_order(tmp_path, memory_keyring, present, expected):
    store = KeyStore()
    explicit, environ = plant(tmp_path, store, present)
    creds = resolve(make_env(tmp_path), environ=environ, root=tmp_path, keystore=store, explicit=explicit)
    assert creds.sources["access_key_id"] == expected
    assert creds.sources["access_key_secret"] == expected.replace("_ID_", "_SECRET_").replace("access_key_id", "access_key_secret")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ({**pair("ALIYUN"), **pair("ALIBABA_CLOUD", ""), **pair("ALIYUN", "")}, "ALIYUN_ACCESS_KEY_ID_PROD"),
        ({**pair("ALIBABA_CLOUD", ""), **pair("ALIYUN", "")}, "ALIBABA_CLOUD_ACCESS_KEY_ID"),
        (pair("ALIYUN", ""), "ALIYUN_ACCESS_KEY_ID"),
    ],
    ids=["env-specific-first", "standard-before-generic", "generic-last"],
)
def test_name_family_order(tmp_path, names, expected):
    creds = resolve(make_env(tmp_path), environ=names, root=tmp_path)
    assert creds.sources["access_key_id"] == f"env {expected}"
    assert creds.access_key_id.reveal() == names[expected]


def test_profile_suffix(tmp_path):
    assert env_suffix("prod-cn.east") == "PROD_CN_EAST"
    environ = pair("ALIYUN", "_PROD_CN")
    creds = resolve(make_env(tmp_path, "prod", profile="prod-cn"), environ=environ, root=tmp_path)
    assert creds.sources["access_key_id"] == "env ALIYUN_ACCESS_KEY_ID_PROD_CN"


# -- pairing -------------------------------------------------------------------------------


def test_id_and_secret_never_come_from_two_sources(tmp_path):
    dotenv(tmp_path / ".env.prod", ALIYUN_ACCESS_KEY_SECRET_PROD="FAKEsecretfromfile")
    with pytest.raises(CredentialError) as info:
        resolve(make_env(tmp_path), environ={"ALIYUN_ACCESS_KEY_ID_PROD": "LTAIFAKEfromenv"}, root=tmp_path)
    text = str(info.value)
    assert info.value.exit_code == 3
    assert "ALIYUN_ACCESS_KEY_ID_PROD is set but ALIYUN_ACCESS_KEY_SECRET_PROD is not" in text
    assert "LTAIFAKEfromenv" not in text
    assert "FAKEsecretfromfile" not in text


def test_id_and_secret_never_come_from_two_families(tmp_path):
    environ = {"ALIYUN_ACCESS_KEY_ID_PROD": "LTAIFAKEprod", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "FAKEstandard"}
    with pytest.raises(CredentialError, match="Half a key pair in env"):
        resolve(make_env(tmp_path), environ=environ, root=tmp_path)


def test_token_and_account_come_with_their_pair(tmp_path):
    environ = {
        **pair("ALIBABA_CLOUD", ""),
        "ALIBABA_CLOUD_SECURITY_TOKEN": "FAKEtoken0000000",
        "ALIYUN_SECURITY_TOKEN_PROD": "FAKEothertoken00",  # another family's token: not taken
        "ALIYUN_ACCOUNT_ID_PROD": "1111",
    }
    creds = resolve(make_env(tmp_path, account_id="2222"), environ=environ, root=tmp_path)
    assert creds.security_token.reveal() == "FAKEtoken0000000"
    assert creds.sources["security_token"] == "env ALIBABA_CLOUD_SECURITY_TOKEN"
    assert creds.account_id == "2222"  # the standard family has no account name: the env file's
    assert creds.sources["account_id"] == "prod.yaml credentials.account_id"


def test_account_id_precedence(tmp_path):
    environ = {**pair("ALIYUN"), "ALIYUN_ACCOUNT_ID_PROD": "1111"}
    env = make_env(tmp_path, account_id="2222")
    assert resolve(env, environ=environ, root=tmp_path).account_id == "1111"
    creds = resolve(env, environ=environ, root=tmp_path, explicit={"account_id": "3333"})
    assert (creds.account_id, creds.sources["account_id"]) == ("3333", "argument account_id")


def test_blank_values_count_as_unset(tmp_path):
    # GitHub expands a secret that does not exist to "": that must not shadow a later source.
    environ = {"ALIYUN_ACCESS_KEY_ID_PROD": "", "ALIYUN_ACCESS_KEY_SECRET_PROD": "  ", **pair("ALIYUN", "")}
    creds = resolve(make_env(tmp_path), environ=environ, root=tmp_path)
    assert creds.sources["access_key_id"] == "env ALIYUN_ACCESS_KEY_ID"


# -- .env files and the emulator -----------------------------------------------------------


def test_prod_ignores_dotenv_unless_allowed(tmp_path):
    dotenv(tmp_path / ".env.prod", **pair("ALIYUN", tag="file"))
    dotenv(tmp_path / ".env", **pair("ALIYUN", tag="file"))
    with pytest.raises(MissingCredentials) as info:
        resolve(make_env(tmp_path, allow_dotenv=False), environ={}, root=tmp_path)
    assert ".env.prod (not read)" in str(info.value)
    assert info.value.details["tried"][2]["note"] == "not read (credentials.allow_dotenv is false in prod.yaml)"
    creds = resolve(make_env(tmp_path, allow_dotenv=True), environ={}, root=tmp_path)
    assert creds.sources["access_key_id"] == ".env.prod ALIYUN_ACCESS_KEY_ID_PROD"


def test_emulator_ignores_generic_names(tmp_path):
    shell = {**pair("ALIBABA_CLOUD", "", tag="real"), **pair("ALIYUN", "", tag="real")}
    env = make_env(tmp_path, "local", emulator=True)
    with pytest.raises(MissingCredentials) as info:
        resolve(env, environ=shell, root=tmp_path)
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" not in str(info.value)
    write_dotenv(tmp_path / ".env.local", {"ALIYUN_ACCESS_KEY_ID_LOCAL": "LTAIFAKEemulator", "ALIYUN_ACCESS_KEY_SECRET_LOCAL": Secret("FAKEemulatorsecret")})
    creds = resolve(env, environ=shell, root=tmp_path)
    assert creds.access_key_id.reveal() == "LTAIFAKEemulator"
    assert creds.sources["access_key_secret"] == ".env.local ALIYUN_ACCESS_KEY_SECRET_LOCAL"


def test_readable_dotenv_gives_a_warning(tmp_path):
    dotenv(tmp_path / ".env", **pair("ALIYUN")).chmod(0o644)
    creds = resolve(make_env(tmp_path), environ={}, root=tmp_path)
    assert creds.sources["access_key_id"] == ".env ALIYUN_ACCESS_KEY_ID_PROD"
    assert any("readable by group/other (mode 0644)" in w and "chmod 600" in w for w in creds.warnings)


def test_dotenv_values_are_literal(tmp_path):
    (tmp_path / ".env").write_text("ALIYUN_ACCESS_KEY_ID_PROD=LTAIFAKE1234\nALIYUN_ACCESS_KEY_SECRET_PROD='a$HOME${HOME}b'\n")
    (tmp_path / ".env").chmod(0o600)
    assert resolve(make_env(tmp_path), environ={}, root=tmp_path).access_key_secret.reveal() == "a$HOME${HOME}b"


# -- missing -------------------------------------------------------------------------------


def test_missing_lists_every_source_and_name_but_no_value(tmp_path, memory_keyring):
    planted = {**pair("ALIYUN", "_DEV", tag="dev")}  # another environment's keys: never used for prod
    dotenv(tmp_path / ".env", **pair("ALIYUN", "_DEV", tag="devfile"))
    with pytest.raises(MissingCredentials) as info:
        resolve(make_env(tmp_path), environ=planted, root=tmp_path, keystore=KeyStore())
    err = info.value
    text = str(err)
    assert err.exit_code == 3
    assert [a.source for a in err.attempts] == ["argument", "env", ".env.prod", ".env", "keyring agentrun-tasks/prod"]
    for name in ("ALIYUN_ACCESS_KEY_ID_PROD", "ALIYUN_ACCESS_KEY_SECRET_PROD", "no entry",
                 "invoke credentials.set --env prod"):  # the one next step; every name tried is in details
        assert name in text
    tried = " ".join(name for attempt in err.details["tried"] for name in attempt["names"])
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in tried
    assert "ALIYUN_ACCESS_KEY_SECRET" in tried
    for value in list(planted.values()) + list(pair("ALIYUN", "_DEV", tag="devfile").values()):
        assert value not in text
    assert "\n" not in text  # one paragraph


# -- Credentials value ---------------------------------------------------------------------


def test_credentials_never_show_raw_values(tmp_path):
    environ = {"ALIYUN_ACCESS_KEY_ID_PROD": "LTAIFAKEreprid123456", "ALIYUN_ACCESS_KEY_SECRET_PROD": "FAKEreprsecret987654",
               "ALIYUN_SECURITY_TOKEN_PROD": "FAKEreprtoken55555"}
    creds = resolve(make_env(tmp_path), environ=environ, root=tmp_path)
    assert isinstance(creds, Credentials)
    shown = repr(creds) + str(creds) + repr(creds.masked())
    for value in environ.values():
        assert value not in shown
    assert creds.masked()["access_key_id"] == "LTAI****3456"


# -- write_dotenv --------------------------------------------------------------------------


def test_write_dotenv_is_private_keeps_other_lines_and_round_trips(tmp_path):
    path = tmp_path / ".env.local"
    path.write_text("# keep me\nOTHER=1\nALIYUN_ACCESS_KEY_ID_LOCAL=old\n")
    path.chmod(0o644)
    tricky = "a'b\"c $X ${Y} #z \\ end"
    old = os.umask(0)
    try:
        write_dotenv(path, {"ALIYUN_ACCESS_KEY_ID_LOCAL": "LTAIFAKEnew", "ALIYUN_ACCESS_KEY_SECRET_LOCAL": Secret(tricky)})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("# keep me\nOTHER=1\n")
    assert text.count("ALIYUN_ACCESS_KEY_ID_LOCAL") == 1
    values = dotenv_values(path, interpolate=False)
    assert values["ALIYUN_ACCESS_KEY_ID_LOCAL"] == "LTAIFAKEnew"
    assert values["ALIYUN_ACCESS_KEY_SECRET_LOCAL"] == tricky
    assert [p.name for p in tmp_path.iterdir()] == [".env.local"]  # no temporary file left


# -- KeyStore ------------------------------------------------------------------------------


def test_keystore_round_trip(memory_keyring):
    store = KeyStore()
    assert store.get("dev") is None
    store.set("dev", {"access_key_id": "LTAIFAKEks", "access_key_secret": "FAKEkssecret", "account_id": None})
    assert store.get("dev") == {"access_key_id": "LTAIFAKEks", "access_key_secret": "FAKEkssecret"}
    assert list(memory_keyring.entries) == [("agentrun-tasks", "dev")]  # one JSON entry per profile
    assert store.delete("dev") is True
    assert store.delete("dev") is False
    assert store.warnings == []


def test_keystore_malformed_entry_is_not_found_with_warning(memory_keyring):
    memory_keyring.set_password("agentrun-tasks", "dev", "not json")
    store = KeyStore()
    assert store.get("dev") is None
    assert "not a JSON object" in store.warnings[0]


class Broken:
    def get_password(self, service, username, *password):
        from keyring.errors import NoKeyringError

        raise NoKeyringError("No recommended backend was available.")

    set_password = get_password


class Hanging:
    def __init__(self):
        self.release = threading.Event()

    def get_password(self, service, username):
        self.release.wait(30)


def test_failing_keyring_is_not_found_and_resolution_goes_on(tmp_path):
    store = KeyStore(Broken())
    with pytest.raises(MissingCredentials) as info:
        resolve(make_env(tmp_path), environ={}, root=tmp_path, keystore=store)
    assert "keyring agentrun-tasks/prod (unavailable)" in str(info.value)  # the reason is the warning, once
    assert any("NoKeyringError" in w and "PYTHON_KEYRING_BACKEND" in w for w in info.value.warnings)
    with pytest.raises(ConfigError, match="NoKeyringError") as info:  # a write fails loudly, exit 2
        store.set("prod", {"access_key_id": "a", "access_key_secret": "b"})
    assert info.value.exit_code == 2


def test_hanging_keyring_is_bounded(tmp_path):
    backend = Hanging()
    store = KeyStore(backend, timeout=0.2)
    try:
        assert store.get("prod") is None
        assert "did not answer within 0.2 s" in store.warnings[0]
    finally:
        backend.release.set()


# -- test keyrings -------------------------------------------------------------------------


def test_file_keyring_is_private_and_needs_its_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENTRUN_TEST_KEYRING_DIR", raising=False)
    assert not FileKeyring.viable
    with pytest.raises(RuntimeError, match="AGENTRUN_TEST_KEYRING_DIR"):
        FileKeyring()
    store = KeyStore(FileKeyring(tmp_path))
    store.set("dev", {"access_key_id": "LTAIFAKEfile", "access_key_secret": "FAKEfilesecret"})
    assert stat.S_IMODE((tmp_path / "keyring.json").stat().st_mode) == 0o600
    assert KeyStore(FileKeyring(tmp_path)).get("dev")["access_key_secret"] == "FAKEfilesecret"


def test_the_pair_variable_rotation_writes_wins_over_the_separate_names(tmp_path):
    # A CI platform holds the rotated key as one variable (written in one request) beside a stale
    # pair of separate variables: the one variable is read, so a job never mixes the two.
    environ = {**pair("ALIYUN", tag="stale"), "ALIYUN_ACCESS_KEY_PAIR_PROD": "LTAIFAKEnewid0000:FAKEnewsecret0000"}
    creds = resolve(make_env(tmp_path), environ=environ, root=tmp_path)
    assert (creds.access_key_id.reveal(), creds.access_key_secret.reveal()) == ("LTAIFAKEnewid0000",
                                                                                "FAKEnewsecret0000")
    assert creds.sources["access_key_id"] == "env ALIYUN_ACCESS_KEY_PAIR_PROD"
    with pytest.raises(CredentialError, match="ALIYUN_ACCESS_KEY_PAIR_PROD in env is not") as bad:
        resolve(make_env(tmp_path), environ={"ALIYUN_ACCESS_KEY_PAIR_PROD": "FAKEnocolonsecret"}, root=tmp_path)
    assert "FAKEnocolonsecret" not in str(bad.value)
