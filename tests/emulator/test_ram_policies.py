"""The emulator's RAM answers ListPoliciesForUser and AttachPolicyToUser as RAM does, through the SDK."""

from __future__ import annotations

import pytest
from alibabacloud_ram20150501 import models as ram
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import ClientException

from agentrun_tasks.emulator.account import BOOTSTRAP_USER


def test_policies_attach_list_and_refuse_duplicates_and_unknown_users(emulator):
    client = RamClient(emulator.openapi_config())
    listed = client.list_policies_for_user(ram.ListPoliciesForUserRequest(user_name=BOOTSTRAP_USER)).body
    assert listed.policies.policy == []
    client.attach_policy_to_user(ram.AttachPolicyToUserRequest(
        policy_name="AdministratorAccess", policy_type="System", user_name=BOOTSTRAP_USER))
    listed = client.list_policies_for_user(ram.ListPoliciesForUserRequest(user_name=BOOTSTRAP_USER)).body
    assert [(p.policy_name, p.policy_type) for p in listed.policies.policy] == [("AdministratorAccess", "System")]
    with pytest.raises(ClientException) as dup:
        client.attach_policy_to_user(ram.AttachPolicyToUserRequest(
            policy_name="AdministratorAccess", policy_type="System", user_name=BOOTSTRAP_USER))
    assert dup.value.code == "EntityAlreadyExists.User.Policy"
    with pytest.raises(ClientException) as missing:
        client.list_policies_for_user(ram.ListPoliciesForUserRequest(user_name="nobody"))
    assert missing.value.code == "EntityNotExist.User"
