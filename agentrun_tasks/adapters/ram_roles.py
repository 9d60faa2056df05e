"""A RAM role as RAM GetRole shows it (official SDK): what ``invoke doctor`` reads the trust
policy from. SDK errors become the exit-code classes; the call runs under the retry policy."""

from __future__ import annotations

from ..core.retry import RetryPolicy
from .openapi_connection import Connection
from .openapi_errors import translate


def role_name(arn: str) -> str:
    """``acs:ram::<account>:role/<name>`` -> ``<name>``."""
    return arn.rpartition(":")[2].partition("/")[2]


def get_role(connection: Connection, name: str, policy: RetryPolicy) -> dict:
    """``{RoleName, Arn, AssumeRolePolicyDocument, MaxSessionDuration, ...}`` of role ``name``."""
    from alibabacloud_ram20150501 import models as m
    from alibabacloud_ram20150501.client import Client

    client = Client(connection.sdk_config())

    def attempt() -> dict:
        try:
            return client.get_role(m.GetRoleRequest(role_name=name)).body.role.to_map()
        except Exception as exc:  # SDK failures are classified, anything else re-raised
            error = translate(exc, f"RAM GetRole {name}")
            if error is None:
                raise
            raise error from None

    return policy.call(attempt)
