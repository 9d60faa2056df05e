"""A RAM user's AccessKeys and STS identity, through the official SDKs alibabacloud-ram20150501 and
alibabacloud-sts20150401: what the rotation reads (ListAccessKeys, GetUser) and changes
(CreateAccessKey, UpdateAccessKey, DeleteAccessKey), and how it proves a new key works
(GetCallerIdentity signed with that key, polled with backoff while RAM propagates it).

Every call runs under the environment's retry policy; SDK errors become the exit-code classes
(:mod:`.openapi_errors`). The new key's secret exists here only as a :class:`Secret`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError, CredentialError, NotFoundError, TransientError
from ..core.retry import RetryPolicy
from ..core.rotation_journal import Key
from ..core.secrets import Secret
from .openapi_connection import Connection
from .openapi_errors import translate

if TYPE_CHECKING:
    from alibabacloud_ram20150501.client import Client as RamClient
    from alibabacloud_sts20150401.client import Client as StsClient
    from alibabacloud_tea_openapi.utils_models import Config

    from ..core.ports import AccessKey


class RamKeys:
    """One RAM endpoint and one STS endpoint, called as ``credentials`` (the rotating identity)."""

    def __init__(self, credentials: AccessKey, *, region: str, ram_endpoint: str, sts_endpoint: str,
                 protocol: str = "https", policy: RetryPolicy = RetryPolicy()) -> None:
        self.credentials: AccessKey = credentials
        self.region, self.protocol, self.policy = region, protocol, policy
        self.ram_endpoint, self.sts_endpoint = ram_endpoint, sts_endpoint
        self._ram: RamClient | None = None

    def switch(self, key_id: str, secret: Secret) -> None:
        """Call RAM as the verified new key from now on (before the old one is deactivated)."""
        self.credentials = _Credentials(Secret(key_id, source="rotation"), secret, None)
        self._ram = None

    def _config(self, endpoint: str, credentials: AccessKey) -> Config:
        return Connection(endpoint, self.protocol, self.region, credentials).sdk_config()

    @property
    def ram(self) -> RamClient:
        if self._ram is None:
            from alibabacloud_ram20150501.client import Client

            self._ram = Client(self._config(self.ram_endpoint, self.credentials))
        return self._ram

    def _call(self, what: str, fn: Callable[[], Any], policy: RetryPolicy | None = None) -> Any:
        def attempt() -> Any:
            try:
                return fn().body
            except Exception as exc:  # SDK failures are classified, anything else re-raised
                error = translate(exc, what)
                if error is None:
                    raise
                raise error from None
        return (policy or self.policy).call(attempt)

    # -- reads -------------------------------------------------------------------------------
    def caller_user(self) -> str:
        """The RAM user name of the rotating identity (from its ARN ``acs:ram::<acct>:user/<name>``)."""
        arn = self._call("STS GetCallerIdentity", self._sts(self.credentials).get_caller_identity).arn or ""
        kind, _, name = arn.rpartition(":")[2].partition("/")
        if kind != "user" or not name:
            raise ConfigError(f"The credentials are not a RAM user's ({arn or 'no ARN'}): name the user to rotate with "
                              "credentials.ram_user in the env file.")
        return name

    def require_user(self, user: str) -> None:
        """GetUser: a user that does not exist is a ConfigError (exit 2), before anything changes."""
        from alibabacloud_ram20150501 import models as m

        try:
            self._call(f"RAM GetUser {user!r}", lambda: self.ram.get_user(m.GetUserRequest(user_name=user)))
        except NotFoundError:
            raise ConfigError(f"The RAM user '{user}' (credentials.ram_user) does not exist in this account; nothing "
                              "was changed. Fix the name in the env file.") from None

    def list_keys(self, user: str) -> list[Key]:
        from alibabacloud_ram20150501 import models as m

        body = self._call(f"RAM ListAccessKeys of {user!r}",
                          lambda: self.ram.list_access_keys(m.ListAccessKeysRequest(user_name=user)))
        found = (body.access_keys.access_key if body.access_keys else None) or []
        return [Key(k.access_key_id, k.status, _parse_date(k.create_date)) for k in found]

    # -- changes -----------------------------------------------------------------------------
    def create_key(self, user: str) -> tuple[str, Secret]:
        from alibabacloud_ram20150501 import models as m

        # Never retried: a lost answer would leave a key whose secret nobody has; the journal's
        # intent record lets the next run find and delete such a key instead.
        key = self._call(f"RAM CreateAccessKey for {user!r}", lambda: self.ram.create_access_key(
            m.CreateAccessKeyRequest(user_name=user)), policy=RetryPolicy(attempts=1, total=0.0)).access_key
        return key.access_key_id, Secret(key.access_key_secret, source="RAM CreateAccessKey")

    def set_status(self, user: str, key_id: str, status: str) -> None:
        from alibabacloud_ram20150501 import models as m

        self._call(f"RAM UpdateAccessKey {status}", lambda: self.ram.update_access_key(m.UpdateAccessKeyRequest(
            user_name=user, user_access_key_id=key_id, status=status)))

    def delete_key(self, user: str, key_id: str) -> None:
        from alibabacloud_ram20150501 import models as m

        with contextlib.suppress(NotFoundError):  # already gone: a repeated delete after a crash
            self._call("RAM DeleteAccessKey", lambda: self.ram.delete_access_key(m.DeleteAccessKeyRequest(
                user_name=user, user_access_key_id=key_id)))

    # -- verification ------------------------------------------------------------------------
    def _sts(self, credentials: AccessKey) -> StsClient:
        from alibabacloud_sts20150401.client import Client

        return Client(self._config(self.sts_endpoint, credentials))

    def verify(self, key_id: str, secret: Secret, *, timeout: float = 60.0,
               sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> str:
        """Poll GetCallerIdentity signed with the new key until it answers (RAM propagates new keys
        with a delay), with exponential backoff; the identity's ARN, or CredentialError at ``timeout``."""
        client = self._sts(_Credentials(Secret(key_id, source="rotation"), secret, None))
        deadline, delay, last = clock() + timeout, 0.5, ""
        once = RetryPolicy(attempts=1, total=0.0)
        while True:
            try:
                return self._call("STS GetCallerIdentity with the new key", client.get_caller_identity, once).arn
            except (CredentialError, TransientError) as exc:
                last = str(exc)
            if clock() + delay > deadline:
                raise CredentialError(f"The new AccessKey did not work within {timeout:g} s: {last}")
            sleep(delay)
            delay = min(delay * 2, 8.0)


@dataclass(frozen=True)
class _Credentials:
    access_key_id: Secret
    access_key_secret: Secret
    security_token: Secret | None


def _parse_date(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
