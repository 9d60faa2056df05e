"""Opening role credentials for a session: where STS is (beside the control plane, or the local
emulator) and, for ``AssumeRole``, the key the usual chain finds to sign it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..adapters.federation import RoleCredentials
    from ..core.credentials import Credentials
    from ..core.federation import RolePlan
    from ..core.model import EnvConfig


def open_role_credentials(env: EnvConfig, plan: RolePlan, environ: dict, *, sts_endpoint: str,
                          key: Callable[[], Credentials]) -> RoleCredentials:
    """Credentials of ``plan``'s role, assumed on first use; ``key()`` resolves the signing key
    of an ``AssumeRole`` only when STS is called (an OIDC environment never needs one)."""
    from ..adapters.federation import RoleCredentials, sts_assumer

    protocol = "http" if env.emulator else env.protocol
    assume = sts_assumer(env.name, endpoint=sts_endpoint, protocol=protocol, region=env.region,
                         base_credentials=key, policy=env.retry_policy)
    return RoleCredentials(plan, env.name, assume, environ=environ)


def role_document(env: EnvConfig, role_arn: str, credentials: Any, *, ram_endpoint: str) -> dict:
    """RAM GetRole of ``role_arn``, called as ``credentials`` (doctor reads its trust policy)."""
    from ..adapters.openapi_connection import Connection
    from ..adapters.ram_roles import get_role, role_name

    connection = Connection(endpoint=ram_endpoint, protocol="http" if env.emulator else env.protocol,
                            region=env.region, credentials=credentials)
    return get_role(connection, role_name(role_arn), env.retry_policy)
