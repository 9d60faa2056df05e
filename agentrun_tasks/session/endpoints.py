"""Where RAM and STS are called for an environment on the cloud: beside its control plane when
that is a gateway or a VPC endpoint, else Alibaba Cloud's public endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.model import EnvConfig


def sts_endpoint(env: EnvConfig) -> str:
    """Where STS is called for ``env``: ``credentials.sts_endpoint`` if set, else beside its control
    plane. A ``control_endpoint`` of the form ``agentrun<-variant>.<region>.aliyuncs.com`` (a VPC
    endpoint) gives ``sts<-variant>...``; any other host (a gateway, a private proxy, a local fake)
    serves STS too."""
    host = env.control_endpoint
    if env.credentials.sts_endpoint:
        return env.credentials.sts_endpoint
    if not host:
        return f"sts.{env.region}.aliyuncs.com"
    return "sts" + host[len("agentrun"):] if host.startswith("agentrun") and ".aliyuncs.com" in host else host


def ram_endpoint(env: EnvConfig) -> str:
    """Where RAM is called for ``env``: ``credentials.ram_endpoint`` if set; else the global
    ``ram.aliyuncs.com``, unless ``control_endpoint`` is a host outside ``aliyuncs.com`` (a gateway,
    a private proxy, a local fake), which serves RAM too, as it serves STS."""
    host = env.control_endpoint
    if env.credentials.ram_endpoint:
        return env.credentials.ram_endpoint
    return host if host and ".aliyuncs.com" not in host else "ram.aliyuncs.com"
