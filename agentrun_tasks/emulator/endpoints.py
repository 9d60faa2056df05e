"""Runtime endpoints of the control plane, and the small helpers all control routes share.

An endpoint names a ``targetVersion`` ("LATEST" or a published version, default LATEST) and
optionally ``routingConfiguration.versionWeights``: each listed version gets its weight (a
ratio in [0, 1], the sum at most 1) and the target version the rest. ``endpointPublicUrl`` is
the emulator's own data-plane URL, shaped like the cloud's. Status is ``ACTIVE`` as in the
CreateAgentRuntimeEndpoint example of the cloud's documentation.
"""

from __future__ import annotations

import re

from .auth import ApiError
from .state import LATEST, new_id, now_iso, public

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")


def invalid(message: str) -> ApiError:
    return ApiError(400, "ERR_VALIDATION_FAILED", message)


def missing(kind: str, ident: str) -> ApiError:
    return ApiError(404, "ERR_NOT_FOUND", f"{kind} {ident} does not exist.")


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
    """Endpoint handlers; mixed into the control plane, which provides ``state`` and ``_runtime``."""

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
        weights = []
        for item in routing["versionWeights"]:
            version = self._check_version(runtime, item.get("version", ""), "versionWeights.version")
            try:
                weight = float(item.get("weight"))
            except (TypeError, ValueError):
                raise invalid(f"weight of version {version} must be a number in [0, 1].") from None
            if not 0.0 <= weight <= 1.0:
                raise invalid(f"weight {weight} of version {version} is outside [0, 1] (weights are ratios).")
            weights.append({"version": version, "weight": weight})
        total = sum(w["weight"] for w in weights)
        if total > 1.0 + 1e-9:
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
            endpoint.pop("routingConfiguration", None)  # emulator's choice: no routing means no split
        else:
            endpoint["routingConfiguration"] = routing

    def _name_taken(self, runtime: dict, name: str, ident: str = "") -> bool:
        return any(e["agentRuntimeEndpointName"] == name and e["agentRuntimeEndpointId"] != ident
                   for e in self.state.endpoints_of(runtime["agentRuntimeId"]))

    async def create_endpoint(self, request, body: dict) -> dict:
        runtime = self._runtime(request)
        name = body.get("agentRuntimeEndpointName") or ""
        if not NAME.match(name):
            raise invalid(f"agentRuntimeEndpointName {name!r} is invalid: letters, digits, '_' and '-', "
                          "starting with a letter, at most 128 characters.")
        if self._name_taken(runtime, name):
            raise ApiError(409, "ERR_CONFLICT", f"AgentRuntimeEndpoint {name} already exists.")
        ident = new_id()
        endpoint = {
            "agentRuntimeEndpointId": ident, "agentRuntimeEndpointName": name,
            "agentRuntimeEndpointArn": f"{runtime['agentRuntimeArn']}/endpoints/{ident}",
            "agentRuntimeId": runtime["agentRuntimeId"], "description": "", "targetVersion": LATEST,
            "endpointPublicUrl": self.state.endpoint_url(runtime["agentRuntimeName"], name),
            "status": "ACTIVE", "statusReason": "", "createdAt": now_iso(),
        }
        self._apply(runtime, endpoint, body)
        endpoint["lastUpdatedAt"] = endpoint["createdAt"]
        self.state.endpoints[ident] = endpoint
        self.state.save()
        return public(endpoint)

    async def update_endpoint(self, request, body: dict) -> dict:
        runtime, endpoint = self._endpoint(request)
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
            updated["endpointPublicUrl"] = self.state.endpoint_url(runtime["agentRuntimeName"], name)
        updated["lastUpdatedAt"] = now_iso()
        self.state.endpoints[endpoint["agentRuntimeEndpointId"]] = updated
        self.state.save()
        return public(updated)

    async def get_endpoint(self, request, body: dict) -> dict:
        return public(self._endpoint(request)[1])

    async def delete_endpoint(self, request, body: dict) -> dict:
        _, endpoint = self._endpoint(request)
        del self.state.endpoints[endpoint["agentRuntimeEndpointId"]]
        self.state.save()
        return {**public(endpoint), "status": "DELETING"}

    async def list_endpoints(self, request, body: dict) -> dict:
        runtime = self._runtime(request)
        q = request.query
        items = [public(e) for e in self.state.endpoints_of(runtime["agentRuntimeId"])
                 if name_matches(e["agentRuntimeEndpointName"], q.get("endpointName"), q.get("searchMode"))]
        return page(q, sorted(items, key=lambda e: e["createdAt"]))
