"""Typed views of what the control plane returns, independent of the SDK's classes.

Weights travel as 32-bit floats (the API's ``float``): 0.35 comes back as 0.3499999940395355.
:meth:`Endpoint.from_wire` rounds them to ``WEIGHT_DIGITS`` decimals, which undoes the round trip
for any weight given with up to six decimals, and drops placeholder entries (``{"version": "",
"weight": 0}``) and zero weights, which route nothing; :func:`same_weights` compares two splits
with a tolerance wider than float32's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import NotFoundError, ResourceFailedError, WaitTimeoutError

IN_PROGRESS = frozenset({"CREATING", "UPDATING", "DELETING"})
FAILED = frozenset({"CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "FAILED"})
READY = "READY"
WEIGHT_DIGITS = 6
WEIGHT_TOLERANCE = 1e-5  # float32 keeps ~7 significant digits: its error on a weight is < 6e-8


def same_weights(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Whether two splits (version -> weight, zero weights meaning nothing) route alike."""
    a = {v: w for v, w in a.items() if w > WEIGHT_TOLERANCE}
    b = {v: w for v, w in b.items() if w > WEIGHT_TOLERANCE}
    return a.keys() == b.keys() and all(abs(a[v] - b[v]) <= WEIGHT_TOLERANCE for v in a)


class _Status:
    """What a resource's ``status`` says: a change in progress, or a failed one."""

    status: str

    @property
    def busy(self) -> bool:
        return self.status in IN_PROGRESS

    @property
    def failed(self) -> bool:
        return self.status in FAILED


@dataclass(frozen=True)
class Runtime(_Status):
    id: str
    name: str
    status: str
    status_reason: str = ""
    checksum: str = ""
    description: str = ""
    created_at: str = ""
    updated_at: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "status": self.status, "statusReason": self.status_reason,
                "checksum": self.checksum, "description": self.description,
                "createdAt": self.created_at, "lastUpdatedAt": self.updated_at}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Runtime:
        code = data.get("codeConfiguration") or {}
        return cls(
            id=data.get("agentRuntimeId", ""), name=data.get("agentRuntimeName", ""),
            status=data.get("status", ""), status_reason=data.get("statusReason") or "",
            checksum=str(code.get("checksum") or ""),
            description=data.get("description") or "", created_at=data.get("createdAt") or "",
            updated_at=data.get("lastUpdatedAt") or "", raw=dict(data),
        )


@dataclass(frozen=True)
class Version:
    version: str
    description: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict:
        return {"version": self.version, "description": self.description, "lastUpdatedAt": self.updated_at}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Version:
        return cls(version=str(data.get("agentRuntimeVersion", "")), description=data.get("description") or "",
                   updated_at=data.get("lastUpdatedAt") or "")


@dataclass(frozen=True)
class Endpoint(_Status):
    id: str
    name: str
    runtime_id: str
    target_version: str
    weights: Mapping[str, float]  # canary version -> share of traffic
    url: str = ""
    status: str = ""
    description: str = ""
    status_reason: str = ""

    @property
    def ready(self) -> bool:
        """READY with its URL: what a caller may send traffic to."""
        return self.status == READY and bool(self.url)

    def routes_like(self, target_version: str, weights: Mapping[str, float]) -> bool:
        """Whether this endpoint already routes as ``target_version`` plus ``weights`` would."""
        return str(self.target_version) == str(target_version) and same_weights(self.weights, weights)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "runtimeId": self.runtime_id, "targetVersion": self.target_version,
                "weights": dict(self.weights), "url": self.url, "status": self.status,
                "description": self.description, "traffic": self.traffic()}

    def traffic(self) -> dict[str, float]:
        """Share of requests per version, the target taking what the weights leave."""
        shares = {v: round(w, 6) for v, w in self.weights.items() if w > 0}
        shares[self.target_version] = round(1.0 - sum(shares.values()), 6) + shares.get(self.target_version, 0.0)
        return shares

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Endpoint:
        routing = data.get("routingConfiguration") or {}
        weights = {str(w["version"]): round(float(w.get("weight") or 0.0), WEIGHT_DIGITS)
                   for w in routing.get("versionWeights") or [] if w.get("version") and (w.get("weight") or 0) > 0}
        return cls(
            id=data.get("agentRuntimeEndpointId", ""), name=data.get("agentRuntimeEndpointName", ""),
            runtime_id=data.get("agentRuntimeId", ""), target_version=str(data.get("targetVersion") or "LATEST"),
            weights=weights, url=data.get("endpointPublicUrl") or "", status=data.get("status") or "",
            description=data.get("description") or "", status_reason=data.get("statusReason") or "",
        )


def settle_endpoint(read: Callable[[], Endpoint | None], name: str, *, timeout: float,
                    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                    first: float = 0.1, longest: float = 2.0) -> Endpoint:
    """``read()`` until the endpoint is READY with its URL (the answer to a write is CREATING or
    UPDATING, its URL possibly empty): *_FAILED or gone is exit 5, the deadline exit 6."""
    deadline, delay = clock() + timeout, first
    while True:
        endpoint = read()
        if endpoint is None:
            raise ResourceFailedError(f"endpoint {name} disappeared while waiting for it to be READY.")
        if endpoint.ready:
            return endpoint
        if endpoint.failed:
            raise ResourceFailedError(f"endpoint {name} is {endpoint.status}: "
                                      f"{endpoint.status_reason or 'no reason given'}")
        if clock() + delay > deadline:
            raise WaitTimeoutError(f"endpoint {name} is still {endpoint.status or 'without a URL'} after "
                                   f"{timeout:.0f}s; it may still finish: rerun to continue.")
        sleep(delay)
        delay = min(delay * 1.5, longest)


def required(runtime: Runtime | None, name: str) -> Runtime:
    """``runtime``, or the error every driver gives when the environment has no runtime ``name``."""
    if runtime is None:
        raise NotFoundError(f"agent runtime {name!r} does not exist in this environment; run `invoke deploy` first.")
    return runtime
