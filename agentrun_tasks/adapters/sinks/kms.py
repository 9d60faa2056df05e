"""An Alibaba Cloud KMS generic secret as a sink, through the official SDK alibabacloud-kms20160120.

The key is stored as one new secret version (``PutSecretValue``), JSON in the shape KMS's own RAM
secrets use (``{"AccessKeyId", "AccessKeySecret"}``), with the key id as ``VersionId`` so a
repeated write after a crash is recognised (``Rejected.ResourceExist``) instead of duplicated.
The secret must exist (``DescribeSecret`` in preflight); ``GetSecretValue`` reads it back. The
calls are signed with the environment's own AccessKey, like every other Alibaba Cloud call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...core.errors import ConfigError
from ...core.retry import RetryPolicy
from ...core.secrets import Secret
from ...core.sinks import SinkSpec
from ..openapi_connection import Connection
from ..openapi_errors import translate

if TYPE_CHECKING:
    from alibabacloud_kms20160120.client import Client

    from ...core.ports import AccessKey


class KmsSink:
    def __init__(self, spec: SinkSpec, credentials: AccessKey, *, region: str,
                 policy: RetryPolicy = RetryPolicy()) -> None:
        self.name = spec.name
        self.secret_name = spec["secret_name"]
        self.region = spec["region"] or region
        self.endpoint = spec["endpoint"] or f"kms.{self.region}.aliyuncs.com"
        self.protocol = spec["protocol"]
        self.credentials = credentials
        self.policy = policy
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            from alibabacloud_kms20160120.client import Client

            self._client = Client(Connection(self.endpoint, self.protocol, self.region, self.credentials).sdk_config())
        return self._client

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        def attempt() -> Any:
            try:
                return fn()
            except Exception as exc:  # SDK failures are classified, anything else re-raised
                if "ResourceNotFound" in str(getattr(exc, "code", "")):  # KMS says Forbidden.ResourceNotFound
                    raise ConfigError(f"KMS has no secret {self.secret_name!r} (sink {self.name}): create it once "
                                      "(a generic secret), then rerun. Nothing was changed.") from None
                error = translate(exc, f"KMS {what} of secret {self.secret_name!r}")
                if error is None:
                    raise
                raise error from None
        return self.policy.call(attempt)

    def preflight(self) -> None:
        from alibabacloud_kms20160120 import models as m

        self._call("DescribeSecret", lambda: self.client.describe_secret(m.DescribeSecretRequest(
            secret_name=self.secret_name)))

    def write(self, key_id: str, secret: Secret) -> None:
        from alibabacloud_kms20160120 import models as m

        data = json.dumps({"AccessKeyId": key_id, "AccessKeySecret": secret.reveal()})
        request = m.PutSecretValueRequest(secret_name=self.secret_name, secret_data=data, secret_data_type="text",
                                          version_id=key_id, version_stages='["ACSCurrent"]')
        try:
            self._call("PutSecretValue", lambda: self.client.put_secret_value(request))
        except ConfigError as exc:
            if "Rejected.ResourceExist" not in str(exc) or not self.read_back(key_id, secret):
                raise  # an earlier attempt of this very write already stored it otherwise

    def _current(self) -> dict:
        from alibabacloud_kms20160120 import models as m

        body = self._call("GetSecretValue", lambda: self.client.get_secret_value(m.GetSecretValueRequest(
            secret_name=self.secret_name))).body
        try:
            doc = json.loads(body.secret_data or "{}")
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        doc = self._current()
        return doc.get("AccessKeyId") == key_id and doc.get("AccessKeySecret") == secret.reveal()

    def held_id(self) -> str | None:
        return self._current().get("AccessKeyId")
