"""Runtime endpoints of the control plane, and the small helpers all control routes share.

An endpoint names a ``targetVersion`` ("LATEST" or a published version, default LATEST) and
optionally ``routingConfiguration.versionWeights``: each listed version gets its weight (a
ratio in [0, 1], the sum at most 1) and the target version the rest. ``endpointPublicUrl`` is
the emulator's own data-plane URL, shaped like the cloud's.

As on the cloud, a write is not done when it is answered: a created endpoint is ``CREATING``
with an empty ``endpointPublicUrl``, an updated one ``UPDATING`` (GET shows the new settings,
traffic still follows the old ones), and both become ``READY`` a moment later (the devsapp
component polls for the URL; agentrun-sdk's final states are READY and *_FAILED). The API
example's ``ACTIVE`` is not what the SDKs wait for. Writes while the runtime or the endpoint is
busy are refused with 400, like every write the cloud refuses for a runtime that is not READY.
Weights are stored as float32, as the wire's ``float`` is.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .auth import ApiError
from .state import LATEST, new_id, now_iso, public

if TYPE_CHECKING:
    from .faults import Faults
    from .state import State

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")


def invalid(message: str) -> ApiError:
    return ApiError(400, "ERR_VALIDATION_FAILED", message)


def missing(kind: str, ident: str) -> ApiError:
    return ApiError(404, "ERR_NOT_FOUND", f"{kind} {ident} does not exist.")


def not_ready(kind: str, name: str, status: str) -> ApiError:
    """The 400 of a write to a resource (or under a runtime) that is not READY."""
    return ApiError(400, "ERR_VALIDATION_FAILED", f"{kind} {name} is {status}: the operation requires status "
                                                  "READY; retry once the current change has finished.")


def float32(value: float) -> float:
    """``value`` after a round trip through a 32-bit float (0.35 -> 0.3499999940395355)."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


PLACEHOLDER = {"version": "", "weight": 0.0}


def page(query, items: list[dict]) -> dict:
    """One page of ``items`` in the cloud's list shape."""
    try:
        number = int(query.get("pageNumber") or 1)
        size = int(query.get("pageSize") or 20)
    except ValueError:
        raise invalid("pageNumber and pageSize must be integers.") from None
    if number < 1 or not 1 <= size <= 100:
        raise invalid("pageNumber must be >= 1 and pageSize within [1, 100].")
    start = (number - 1) * size
    return {"items": items[start:start + size], "pageNumber": number, "pageSize": size, "total": len(items)}


def name_matches(name: str, wanted: str | None, mode: str | None) -> bool:
    """``searchMode=exact`` compares whole names; anything else is a substring search."""
    if not wanted:
        return True
    return name == wanted if (mode or "").lower() == "exact" else wanted in name


class EndpointRoutes:
    """Endpoint handlers; mixed into the control plane, which provides these (declared, not defined, here):"""

    state: State
    faults: Callable[[], Faults]
    _runtime: Callable[[Any], dict]  # request -> its runtime record, or the 404
    settle_endpoint: Callable[[str], None]

    def _endpoint(self, request) -> tuple[dict, dict]:
        runtime = self._runtime(request)
        ident = request.match_info["endpointId"]
        endpoint = self.state.endpoints.get(ident)
        if endpoint is None or endpoint["agentRuntimeId"] != runtime["agentRuntimeId"]:
            raise missing("AgentRuntimeEndpoint", ident)
        return runtime, endpoint

    def _check_version(self, runtime: dict, version: str, field: str) -> str:
        version = str(version)
        if version != LATEST and self.state.version(runtime["agentRuntimeId"], version) is None:
            raise invalid(f"{field} {version} is not a published version of {runtime['agentRuntimeName']} "
                          "(publish it first, or use LATEST).")
        return version

    def _routing(self, runtime: dict, body: dict) -> dict | None:
        routing = body.get("routingConfiguration")
        if not routing or not routing.get("versionWeights"):
            return None
        weights: list[dict[str, Any]] = []
        for item in routing["versionWeights"]:
            if not item.get("version") and not item.get("weight"):
                continue  # the placeholder entry the API itself shows for "no split"
            version = self._check_version(runtime, item.get("version", ""), "versionWeights.version")
            try:
                weight = float(item.get("weight"))
            except (TypeError, ValueError):
                raise invalid(f"weight of version {version} must be a number in [0, 1].") from None
            if not 0.0 <= weight <= 1.0:
                raise invalid(f"weight {weight} of version {version} is outside [0, 1] (weights are ratios).")
            weights.append({"version": version, "weight": float32(weight)})
        if not weights:
            return None
        total = sum(w["weight"] for w in weights)
        if total > 1.0 + 1e-6:
            raise invalid(f"versionWeights sum to {total:g}: the sum must be at most 1.")
        return {"versionWeights": weights}

    def _apply(self, runtime: dict, endpoint: dict, body: dict) -> None:
        for field in ("description", "disablePublicNetworkAccess", "scalingConfig"):
            if field in body:
                endpoint[field] = body[field]
        if body.get("deleteScalingConfig"):
            endpoint.pop("scalingConfig", None)
        if body.get("targetVersion") is not None:
            endpoint["targetVersion"] = self._check_version(runtime, body["targetVersion"], "targetVersion")
        routing = self._routing(runtime, body)
        if routing is None:
            if not self.faults().on("sticky_split"):
                endpoint.pop("routingConfiguration", None)  # emulator's choice: no routing means no split
        else:
            endpoint["routingConfiguration"] = routing

    def _name_taken(self, runtime: dict, name: str, ident: str = "") -> bool:
        return any(e["agentRuntimeEndpointName"] == name and e["agentRuntimeEndpointId"] != ident
                   for e in self.state.endpoints_of(runtime["agentRuntimeId"]))

    def _runtime_ready(self, runtime: dict) -> None:
        if runtime["status"] != "READY":
            raise not_ready("AgentRuntime", runtime["agentRuntimeName"], runtime["status"])

    async def create_endpoint(self, request, body: dict) -> dict:
        runtime = self._runtime(request)
        name = body.get("agentRuntimeEndpointName") or ""
        if not NAME.match(name):
            raise invalid(f"agentRuntimeEndpointName {name!r} is invalid: letters, digits, '_' and '-', "
                          "starting with a letter, at most 128 characters.")
        if self._name_taken(runtime, name):
            raise ApiError(409, "ERR_CONFLICT", f"AgentRuntimeEndpoint {name} already exists.")
        self._runtime_ready(runtime)
        ident = new_id()
        endpoint = {
            "agentRuntimeEndpointId": ident, "agentRuntimeEndpointName": name,
            "agentRuntimeEndpointArn": f"{runtime['agentRuntimeArn']}/endpoints/{ident}",
            "agentRuntimeId": runtime["agentRuntimeId"], "description": "", "targetVersion": LATEST,
            "endpointPublicUrl": "", "status": "CREATING", "statusReason": "", "createdAt": now_iso(),
        }
        self._apply(runtime, endpoint, body)
        endpoint["lastUpdatedAt"] = endpoint["createdAt"]
        self.state.endpoints[ident] = endpoint
        self.state.save()
        self.settle_endpoint(ident)
        return self._shown(endpoint)

    def _shown(self, endpoint: dict) -> dict:
        """An endpoint as the API shows it (with the placeholder weight when that fault is on)."""
        shown = public(endpoint)
        if not (shown.get("routingConfiguration") or {}).get("versionWeights") and \
                self.faults().on("placeholder_weights"):
            shown["routingConfiguration"] = {"versionWeights": [dict(PLACEHOLDER)]}
        return shown

    async def update_endpoint(self, request, body: dict) -> dict:
        runtime, endpoint = self._endpoint(request)
        self._runtime_ready(runtime)
        if endpoint["status"] != "READY":
            raise not_ready("AgentRuntimeEndpoint", endpoint["agentRuntimeEndpointName"], endpoint["status"])
        name = body.get("agentRuntimeEndpointName")
        if name and name != endpoint["agentRuntimeEndpointName"]:
            if not NAME.match(name):
                raise invalid(f"agentRuntimeEndpointName {name!r} is invalid.")
            if self._name_taken(runtime, name, endpoint["agentRuntimeEndpointId"]):
                raise ApiError(409, "ERR_CONFLICT", f"AgentRuntimeEndpoint {name} already exists.")
        updated = dict(endpoint)
        self._apply(runtime, updated, body)  # validate fully before changing anything
        if name:
            updated["agentRuntimeEndpointName"] = name
            updated["endpointPublicUrl"] = ""
        updated["lastUpdatedAt"] = now_iso()
        # Traffic follows the settings of before until the update is done.
        updated.update(status="UPDATING", _active={k: endpoint.get(k) for k in ("targetVersion",
                                                                                 "routingConfiguration")})
        self.state.endpoints[endpoint["agentRuntimeEndpointId"]] = updated
        self.state.save()
        self.settle_endpoint(endpoint["agentRuntimeEndpointId"])
        return self._shown(updated)

    async def get_endpoint(self, request, body: dict) -> dict:
        return self._shown(self._endpoint(request)[1])

    async def delete_endpoint(self, request, body: dict) -> dict:
        runtime, endpoint = self._endpoint(request)
        self._runtime_ready(runtime)
        if endpoint["status"] == "DELETING":
            return self._shown(endpoint)
        endpoint.update(status="DELETING", lastUpdatedAt=now_iso())
        self.state.save()
        self.settle_endpoint(endpoint["agentRuntimeEndpointId"])
        return self._shown(endpoint)

    async def list_endpoints(self, request, body: dict) -> dict:
        runtime = self._runtime(request)
        q = request.query
        items = [self._shown(e) for e in self.state.endpoints_of(runtime["agentRuntimeId"])
                 if name_matches(e["agentRuntimeEndpointName"], q.get("endpointName"), q.get("searchMode"))]
        return page(q, sorted(items, key=lambda e: e["createdAt"]))
