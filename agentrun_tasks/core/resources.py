"""Typed views of what the control plane returns, independent of the SDK's classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

IN_PROGRESS = frozenset({"CREATING", "UPDATING", "DELETING"})
FAILED = frozenset({"CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "FAILED"})
READY = "READY"


@dataclass(frozen=True)
class Runtime:
    id: str
    name: str
    status: str
    status_reason: str = ""
    checksum: str = ""
    description: str = ""
    created_at: str = ""
    updated_at: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def busy(self) -> bool:
        return self.status in IN_PROGRESS

    @property
    def failed(self) -> bool:
        return self.status in FAILED

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "status": self.status, "statusReason": self.status_reason,
                "checksum": self.checksum, "description": self.description,
                "createdAt": self.created_at, "lastUpdatedAt": self.updated_at}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> "Runtime":
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
    def from_wire(cls, data: Mapping[str, Any]) -> "Version":
        return cls(version=str(data.get("agentRuntimeVersion", "")), description=data.get("description") or "",
                   updated_at=data.get("lastUpdatedAt") or "")


@dataclass(frozen=True)
class Endpoint:
    id: str
    name: str
    runtime_id: str
    target_version: str
    weights: Mapping[str, float]  # canary version -> share of traffic
    url: str = ""
    status: str = ""
    description: str = ""

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
    def from_wire(cls, data: Mapping[str, Any]) -> "Endpoint":
        routing = data.get("routingConfiguration") or {}
        weights = {str(w.get("version")): float(w.get("weight") or 0.0) for w in routing.get("versionWeights") or []}
        return cls(
            id=data.get("agentRuntimeEndpointId", ""), name=data.get("agentRuntimeEndpointName", ""),
            runtime_id=data.get("agentRuntimeId", ""), target_version=str(data.get("targetVersion") or "LATEST"),
            weights=weights, url=data.get("endpointPublicUrl") or "", status=data.get("status") or "",
            description=data.get("description") or "",
        )
