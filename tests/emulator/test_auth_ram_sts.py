"""Signatures, RAM keys and STS identity, through the official RAM/STS/AgentRun clients."""

from __future__ import annotations

import os
import stat

import pytest
from alibabacloud_agentrun20250910 import models as ar
from alibabacloud_agentrun20250910.client import Client as AgentRunClient
from alibabacloud_ram20150501 import models as ram
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from agentrun_tasks.emulator import account
from agentrun_tasks.emulator.account import BOOTSTRAP_USER, ENV_FILE
from agentrun_tasks.emulator.state import State


def test_bootstrap_account_and_caller_identity(emulator):
    env_file = emulator.root / ENV_FILE
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
    state_file = emulator.root / ".agentrun" / "local" / "state.json"  # holds the secrets it verifies with
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    assert emulator.access_key_id.startswith("LTAI")
    assert len(emulator.access_key_secret.reveal()) == 30
    assert len(emulator.account_id) == 16
    assert emulator.account_id.isdigit()
    identity = StsClient(emulator.openapi_config()).get_caller_identity().body
    assert identity.account_id == emulator.account_id
    assert identity.arn == f"acs:ram::{emulator.account_id}:user/{BOOTSTRAP_USER}"
    assert identity.identity_type == "RAMUser"
    assert identity.request_id
    # The secret never reaches the emulator's log.
    log = (emulator.root / ".agentrun" / "local" / "emulator.log").read_text()
    assert emulator.access_key_secret.reveal() not in log


def test_bootstrap_writes_env_local_as_the_credential_chain_reads_it(tmp_path):
    env_file = tmp_path / ENV_FILE
    env_file.write_text("# mine\nexport ALIYUN_ACCESS_KEY_ID_LOCAL=stale\nOTHER='a $b'\n")
    state = State(tmp_path)
    assert account.bootstrap(state) is True
    text = env_file.read_text()
    assert text.startswith("# mine\n")
    assert text.count("ALIYUN_ACCESS_KEY_ID_LOCAL") == 1
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
    key_id, secret, account_id = account.read_credentials(tmp_path)
    assert state.keys[key_id]["secret"] == secret.reveal()
    assert account_id == state.account["id"]
    assert "OTHER='a $b'" in text


def test_key_rotation_rules(emulator):
    client = RamClient(emulator.openapi_config())
    created = client.create_access_key(ram.CreateAccessKeyRequest(user_name=BOOTSTRAP_USER)).body.access_key
    assert created.status == "Active"
    assert created.access_key_id.startswith("LTAI")
    with pytest.raises(ClientException) as limit:
        client.create_access_key(ram.CreateAccessKeyRequest(user_name=BOOTSTRAP_USER))
    assert limit.value.code == "LimitExceeded.User.AccessKey"
    listed = client.list_access_keys(ram.ListAccessKeysRequest(user_name=BOOTSTRAP_USER)).body
    assert {k.access_key_id for k in listed.access_keys.access_key} == {emulator.access_key_id, created.access_key_id}

    # The new key works and is recorded as used.
    new = RamClient(emulator.openapi_config(created.access_key_id, created.access_key_secret))
    last = new.get_access_key_last_used(ram.GetAccessKeyLastUsedRequest(
        user_name=BOOTSTRAP_USER, user_access_key_id=created.access_key_id)).body
    assert last.access_key_last_used.last_used_date.endswith("Z")

    # Deactivated through RAM: refused on the very next call.
    new.update_access_key(ram.UpdateAccessKeyRequest(user_name=BOOTSTRAP_USER, status="Inactive",
                                                     user_access_key_id=emulator.access_key_id))
    old = StsClient(emulator.openapi_config())
    with pytest.raises(ClientException) as inactive:
        old.get_caller_identity()
    assert (inactive.value.status_code, inactive.value.code) == (400, "InvalidAccessKeyId.Inactive")

    # Deleted: NotFound, and the user is back to one key.
    new.delete_access_key(ram.DeleteAccessKeyRequest(user_name=BOOTSTRAP_USER,
                                                     user_access_key_id=emulator.access_key_id))
    with pytest.raises(ClientException) as deleted:
        old.get_caller_identity()
    assert (deleted.value.status_code, deleted.value.code) == (404, "InvalidAccessKeyId.NotFound")
    with pytest.raises(ClientException) as gone:
        new.delete_access_key(ram.DeleteAccessKeyRequest(user_name=BOOTSTRAP_USER,
                                                         user_access_key_id=emulator.access_key_id))
    assert gone.value.code == "EntityNotExist.User.AccessKey"


def test_bad_signature_and_unknown_key_refused(emulator):
    wrong_secret = AgentRunClient(emulator.openapi_config(access_key_secret="x" * 30))
    with pytest.raises(ClientException) as bad:
        wrong_secret.list_agent_runtimes(ar.ListAgentRuntimesRequest())
    assert (bad.value.status_code, bad.value.code) == (400, "SignatureDoesNotMatch")
    unknown = RamClient(emulator.openapi_config(access_key_id="LTAI" + "0" * 20))
    with pytest.raises(ClientException) as missing:
        unknown.list_access_keys(ram.ListAccessKeysRequest())
    assert (missing.value.status_code, missing.value.code) == (404, "InvalidAccessKeyId.NotFound")


def test_query_values_with_spaces_and_symbols_verify(emulator):
    """Query encoding (space, '+', '/', unicode) must round-trip through the signature check."""
    client = AgentRunClient(emulator.openapi_config())
    result = client.list_agent_runtimes(ar.ListAgentRuntimesRequest(agent_runtime_name="a b+c/é~*"))
    assert result.body.data.total == 0


def test_secret_never_in_error_output(emulator):
    """A sentinel secret used to sign must not come back in any error text."""
    sentinel = "SENTINEL" + "s" * 22
    client = StsClient(emulator.openapi_config(access_key_secret=sentinel))
    with pytest.raises(ClientException) as refused:
        client.get_caller_identity()
    assert sentinel not in str(refused.value)
    assert sentinel not in str(refused.value.data)
    log = (emulator.root / ".agentrun" / "local" / "emulator.log").read_text()
    assert sentinel not in log


def test_get_user_and_a_user_that_does_not_exist(emulator):
    client = RamClient(emulator.openapi_config())
    user = client.get_user(ram.GetUserRequest(user_name=BOOTSTRAP_USER)).body.user
    assert user.user_name == BOOTSTRAP_USER
    assert user.user_id
    for call in (lambda: client.get_user(ram.GetUserRequest(user_name="nobody")),
                 lambda: client.create_access_key(ram.CreateAccessKeyRequest(user_name="nobody")),
                 lambda: client.list_access_keys(ram.ListAccessKeysRequest(user_name="nobody"))):
        with pytest.raises(ClientException) as missing:
            call()
        assert (missing.value.status_code, missing.value.code) == (404, "EntityNotExist.User")
    listed = client.list_access_keys(ram.ListAccessKeysRequest(user_name=BOOTSTRAP_USER)).body
    assert len(listed.access_keys.access_key) == 1  # nothing was created for the missing user
