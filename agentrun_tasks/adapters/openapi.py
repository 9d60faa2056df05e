"""The AgentRun control plane through the official ``alibabacloud-agentrun20250910`` SDK: the
typed operations on workspaces, runtimes, versions and endpoints, and the caller's identity.

Every call goes through :class:`~.openapi_calls.OpenApiCalls` (retry policy, waiting out a runtime
or endpoint that is still changing, creates whose answer was lost); the SDK is imported on first
use, so listing tasks stays fast. On top of that the driver survives AgentRun's real lifecycle, so
flows need not know it:

- every endpoint write is followed by reads until the endpoint is READY with its URL (the answer
  to a write is CREATING/UPDATING, its URL possibly empty); a write that changes nothing is not
  sent; and the endpoint read back must route as written (exit 5 otherwise: e.g. a split that
  ``versionWeights: []`` did not clear);
- a runtime update is followed by a fresh GET (its answer may echo the status from before);
- an s.yaml ``workspace`` (``{id}`` or ``{name}``, as the devsapp component takes it) is resolved
  to its ``workspaceId`` once, and runtime lookups are scoped to it.

:class:`Connection` lives in :mod:`.openapi_connection` and is importable from here too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..core.errors import NotFoundError, ResourceFailedError, WaitTimeoutError
from ..core.resources import Endpoint, Runtime, Version, required, settle_endpoint
from ..core.retry import RetryPolicy
from .openapi_calls import PAGE, POLL_FIRST, POLL_MAX, OpenApiCalls
from .openapi_connection import Connection

if TYPE_CHECKING:
    from alibabacloud_agentrun20250910.client import Client

__all__ = ["Connection", "OpenApiDriver"]


class OpenApiDriver(OpenApiCalls):
    """Typed AgentRun operations: runtimes, versions, endpoints, and the caller's identity."""

    def __init__(self, connection: Connection, policy: RetryPolicy, *, busy_timeout: float = 900.0,
                 workspace: Mapping[str, str] | str | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(policy, busy_timeout=busy_timeout, clock=clock, sleep=sleep)
        self.connection = connection
        self.workspace = workspace  # the agent's s.yaml ``workspace``: {id} | {name} | an id
        self._workspace_id: str | None = None
        self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            from alibabacloud_agentrun20250910.client import Client

            self._client = Client(self.connection.sdk_config())
        return self._client

    # -- workspaces ------------------------------------------------------------------------
    def workspace_id(self, workspace: Mapping[str, str] | str | None = None) -> str | None:
        """The id of ``workspace`` (default: the driver's): ``{id}`` as it is, ``{name}`` looked up."""
        from alibabacloud_agentrun20250910 import models as m

        given = self.workspace if workspace is None else workspace
        if not given:
            return None
        if isinstance(given, str):
            return given
        if given.get("id"):
            return str(given["id"])
        if workspace is None and self._workspace_id is not None:
            return self._workspace_id
        name = str(given.get("name") or "")
        data = self._call(f"find workspace {name!r}", lambda: self.client.list_workspaces(
            m.ListWorkspacesRequest(name=name, page_size=PAGE))).get("data") or {}
        found = next((w["workspaceId"] for w in data.get("workspaces") or [] if w.get("name") == name), None)
        if found is None:
            raise NotFoundError(f"workspace {name!r} (agent.workspace) does not exist in this account.")
        if workspace is None:
            self._workspace_id = found
        return found

    def _in_workspace(self, spec: Mapping[str, Any]) -> dict:
        """``spec`` with its ``workspaceId`` (an s.yaml object, or the driver's) resolved to an id."""
        spec = dict(spec)
        ident = self.workspace_id(spec.pop("workspaceId", None) or None)
        if ident:
            spec["workspaceId"] = ident
        return spec

    # -- runtimes --------------------------------------------------------------------------
    def find_runtime(self, name: str) -> Runtime | None:
        from alibabacloud_agentrun20250910 import models as m

        scope = {"workspace_id": self.workspace_id()} if self.workspace else {}
        items = self._all_pages(f"find runtime {name!r}", lambda n: self.client.list_agent_runtimes(
            m.ListAgentRuntimesRequest(agent_runtime_name=name, search_mode="exact", page_number=n, page_size=PAGE,
                                       **scope)))
        for item in items:
            if item.get("agentRuntimeName") == name:
                return Runtime.from_wire(item)
        return None

    def require_runtime(self, name: str) -> Runtime:
        return required(self.find_runtime(name), name)

    def get_runtime(self, runtime_id: str) -> Runtime:
        from alibabacloud_agentrun20250910 import models as m

        body = self._call(f"get runtime {runtime_id}",
                          lambda: self.client.get_agent_runtime(runtime_id, m.GetAgentRuntimeRequest()))
        return Runtime.from_wire(body.get("data") or {})

    def create_runtime(self, spec: Mapping[str, Any]) -> Runtime:
        from alibabacloud_agentrun20250910 import models as m

        name = spec["agentRuntimeName"]
        request = m.CreateAgentRuntimeRequest(body=m.CreateAgentRuntimeInput().from_map(self._in_workspace(spec)))
        return self._create(f"create runtime {name!r}", lambda: self.client.create_agent_runtime(request),
                            Runtime.from_wire, lambda: self.find_runtime(name))

    def update_runtime(self, runtime_id: str, spec: Mapping[str, Any]) -> Runtime:
        from alibabacloud_agentrun20250910 import models as m

        request = m.UpdateAgentRuntimeRequest(body=m.UpdateAgentRuntimeInput().from_map(self._in_workspace(spec)))
        self._call(f"update runtime {runtime_id}", lambda: self.client.update_agent_runtime(runtime_id, request))
        # The answer may echo the status from before the update: only a fresh read is judged.
        return self.get_runtime(runtime_id)

    def delete_runtime(self, runtime_id: str) -> None:
        self._call(f"delete runtime {runtime_id}", lambda: self.client.delete_agent_runtime(runtime_id))

    # -- versions --------------------------------------------------------------------------
    def publish_version(self, runtime_id: str, description: str) -> Version:
        from alibabacloud_agentrun20250910 import models as m

        request = m.PublishRuntimeVersionRequest(
            body=m.PublishRuntimeVersionInput().from_map({"description": description}))
        known = {v.version for v in self.list_versions(runtime_id)}

        def published_by_a_lost_call() -> Version | None:
            new = [v for v in self.list_versions(runtime_id) if v.version not in known and v.description == description]
            return new[-1] if new else None

        return self._create(f"publish a version of {runtime_id}",
                            lambda: self.client.publish_runtime_version(runtime_id, request),
                            Version.from_wire, published_by_a_lost_call)

    def list_versions(self, runtime_id: str) -> list[Version]:
        from alibabacloud_agentrun20250910 import models as m

        items = self._all_pages(f"list versions of {runtime_id}", lambda n: self.client.list_agent_runtime_versions(
            runtime_id, m.ListAgentRuntimeVersionsRequest(page_number=n, page_size=PAGE)))
        versions = [Version.from_wire(v) for v in items]
        return sorted(versions, key=lambda v: _version_key(v.version))

    # -- endpoints -------------------------------------------------------------------------
    def list_endpoints(self, runtime_id: str, name: str | None = None) -> list[Endpoint]:
        """Every endpoint of the runtime, or only the one named ``name`` (exact match)."""
        from alibabacloud_agentrun20250910 import models as m

        search = {"endpoint_name": name, "search_mode": "exact"} if name is not None else {}
        what = f"find endpoint {name!r} of {runtime_id}" if name is not None else f"list endpoints of {runtime_id}"
        items = self._all_pages(what, lambda n: self.client.list_agent_runtime_endpoints(
            runtime_id, m.ListAgentRuntimeEndpointsRequest(page_number=n, page_size=PAGE, **search)))
        return [Endpoint.from_wire(e) for e in items]

    def find_endpoint(self, runtime_id: str, name: str) -> Endpoint | None:
        return next((e for e in self.list_endpoints(runtime_id, name) if e.name == name), None)

    def get_endpoint(self, runtime_id: str, endpoint_id: str) -> Endpoint:
        body = self._call(f"get endpoint {endpoint_id}",
                          lambda: self.client.get_agent_runtime_endpoint(runtime_id, endpoint_id))
        return Endpoint.from_wire(body.get("data") or {})

    def put_endpoint(self, runtime_id: str, name: str, *, target_version: str,
                     weights: Mapping[str, float] | None = None, description: str | None = None) -> Endpoint:
        """Create or update endpoint ``name`` (upsert by name, like ``s endpoint publish``) and
        return it READY with its URL, routing as asked. An endpoint that already routes so (and
        has that description) is not written again."""
        from alibabacloud_agentrun20250910 import models as m

        weights = {str(v): float(w) for v, w in (weights or {}).items() if float(w) > 0}
        spec: dict[str, Any] = {"agentRuntimeEndpointName": name, "targetVersion": str(target_version),
                                "routingConfiguration": {"versionWeights": [
                                    {"version": v, "weight": w} for v, w in weights.items()]}}
        if description is not None:
            spec["description"] = description
        existing = self.find_endpoint(runtime_id, name)
        if existing is None:
            request = m.CreateAgentRuntimeEndpointRequest(body=m.CreateAgentRuntimeEndpointInput().from_map(spec))
            written = self._create(f"create endpoint {name!r}",
                                   lambda: self.client.create_agent_runtime_endpoint(runtime_id, request),
                                   Endpoint.from_wire, lambda: self.find_endpoint(runtime_id, name))
        elif existing.routes_like(target_version, weights) and description in (None, existing.description) \
                and not existing.failed:
            written = existing  # nothing to change: no write, but it may still be settling
        else:
            request = m.UpdateAgentRuntimeEndpointRequest(body=m.UpdateAgentRuntimeEndpointInput().from_map(spec))
            self._call(f"update endpoint {name!r}", lambda: self.client.update_agent_runtime_endpoint(
                runtime_id, existing.id, request))
            written = existing
        endpoint = self.wait_endpoint_ready(runtime_id, written.id, name)
        if not endpoint.routes_like(target_version, weights):
            raise ResourceFailedError(
                f"endpoint {name!r} was written to route {_routing(target_version, weights)} but reads back as "
                f"{_routing(endpoint.target_version, endpoint.weights)}: the platform did not apply the change "
                "(for a split, whether an empty versionWeights clears it is undocumented). Check it with "
                "`invoke endpoint.get` and set it with `invoke endpoint.publish`.")
        return endpoint

    def wait_endpoint_ready(self, runtime_id: str, endpoint_id: str, name: str = "",
                            timeout: float | None = None) -> Endpoint:
        """Read the endpoint until it is READY with a URL: *_FAILED is exit 5, the deadline exit 6."""
        return settle_endpoint(lambda: self.get_endpoint(runtime_id, endpoint_id), name or endpoint_id,
                               timeout=self.busy_timeout if timeout is None else timeout,
                               clock=self._clock, sleep=self._sleep, first=POLL_FIRST, longest=POLL_MAX)

    def delete_endpoint(self, runtime_id: str, endpoint_id: str, *, wait: bool = True) -> None:
        """Delete the endpoint and (``wait``) read until it is gone: a runtime keeps its endpoints
        until their deletion has finished."""
        try:
            self._call(f"delete endpoint {endpoint_id}",
                       lambda: self.client.delete_agent_runtime_endpoint(runtime_id, endpoint_id))
        except NotFoundError:
            return
        deadline, delay = self._clock() + self.busy_timeout, POLL_FIRST
        while wait:
            try:
                endpoint = self.get_endpoint(runtime_id, endpoint_id)
            except NotFoundError:
                return
            if endpoint.failed:
                raise ResourceFailedError(f"endpoint {endpoint.name} is {endpoint.status}: "
                                          f"{endpoint.status_reason or 'no reason given'}")
            if self._clock() + delay > deadline:
                raise WaitTimeoutError(f"endpoint {endpoint.name} is still {endpoint.status} after "
                                       f"{self.busy_timeout:.0f}s of waiting for its deletion.")
            self._sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)

    # -- identity --------------------------------------------------------------------------
    def caller_identity(self) -> dict:
        """STS GetCallerIdentity: the cheapest proof that the credentials work."""
        from alibabacloud_sts20150401.client import Client as StsClient

        conn = self.connection
        sts = StsClient(conn.sdk_config(conn.sts_endpoint or f"sts.{conn.region}.aliyuncs.com"))
        body = self._call("verify the credentials (STS GetCallerIdentity)", sts.get_caller_identity)
        return {k: body.get(k) for k in ("AccountId", "Arn", "IdentityType", "PrincipalId", "UserId")}


def _routing(target: str, weights: Mapping[str, float]) -> str:
    split = ", ".join(f"{w:g} to version {v}" for v, w in sorted(weights.items()))
    return f"version {target}" + (f" with {split}" if split else " alone")


def _version_key(version: str) -> tuple:
    return (0, int(version), "") if version.isdigit() else (1, 0, version)
