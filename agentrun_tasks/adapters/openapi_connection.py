"""Where and as whom an Alibaba Cloud SDK client calls: the :class:`Connection` every cloud adapter
(the AgentRun driver, STS, RAM, KMS, SLS) is opened with, and the SDK ``Config`` it gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alibabacloud_tea_openapi.utils_models import Config

    from ..core.ports import AccessKey

__all__ = ["Connection"]


@dataclass(frozen=True)
class Connection:
    """Where and as whom to call. ``endpoint`` is host[:port] of the AgentRun control plane."""

    endpoint: str
    protocol: str
    region: str
    credentials: AccessKey
    sts_endpoint: str | None = None

    def sdk_config(self, endpoint: str | None = None) -> Config:
        from alibabacloud_tea_openapi.utils_models import Config

        creds = self.credentials
        if hasattr(creds, "sdk_credential"):  # role credentials: asked per request, so they refresh
            return Config(credential=creds.sdk_credential(), endpoint=endpoint or self.endpoint,
                          protocol=self.protocol, region_id=self.region, connect_timeout=5000, read_timeout=30000)
        return Config(
            access_key_id=creds.access_key_id.reveal(),
            access_key_secret=creds.access_key_secret.reveal(),
            security_token=creds.security_token.reveal() if creds.security_token else None,
            endpoint=endpoint or self.endpoint,
            protocol=self.protocol,
            region_id=self.region,
            connect_timeout=5000,
            read_timeout=30000,
        )
