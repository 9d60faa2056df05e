"""The RAM policies attached to a user (RAM ListPoliciesForUser, official SDK) and a custom
policy's document (RAM GetPolicy: its default version), for the least-privilege check.

The call runs under the environment's retry policy; SDK errors become the exit-code classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.policy import Attached
from ..core.retry import RetryPolicy
from .openapi_connection import Connection
from .openapi_errors import translate


def user_from_arn(arn: str) -> str | None:
    """``acs:ram::<account>:user/<name>`` -> ``<name>``; None for the account itself or a role."""
    _, _, resource = arn.rpartition(":")
    return resource.split("/", 1)[1] if resource.startswith("user/") else None


def attached_policies(connection: Connection, user: str, policy: RetryPolicy) -> list[Attached]:
    """The policies attached to RAM user ``user`` (``connection.endpoint`` is the RAM host)."""
    from alibabacloud_ram20150501 import models as m

    body = _call(connection, policy, f"list the policies of RAM user {user}",
                 lambda client: client.list_policies_for_user(m.ListPoliciesForUserRequest(user_name=user)))
    return [Attached.from_wire(p) for p in (body.get("Policies") or {}).get("Policy") or []]


def policy_document(connection: Connection, attached: Attached, policy: RetryPolicy) -> str:
    """The JSON document of ``attached``'s default version."""
    from alibabacloud_ram20150501 import models as m

    body = _call(connection, policy, f"read the RAM policy {attached.name}",
                 lambda client: client.get_policy(m.GetPolicyRequest(policy_name=attached.name,
                                                                     policy_type=attached.type)))
    return str((body.get("DefaultPolicyVersion") or {}).get("PolicyDocument") or "{}")


def _call(connection: Connection, policy: RetryPolicy, what: str, request: Callable[[Any], Any]) -> dict:
    from alibabacloud_ram20150501.client import Client

    client = Client(connection.sdk_config())

    def attempt() -> dict:
        try:
            return request(client).body.to_map()
        except Exception as exc:  # SDK failures are classified, anything else re-raised
            error = translate(exc, what)
            if error is None:
                raise
            raise error from None

    return policy.call(attempt)
