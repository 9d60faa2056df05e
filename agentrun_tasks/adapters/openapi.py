"""The AgentRun control plane through the official ``alibabacloud-agentrun20250910`` SDK.

Every call runs under the environment's :class:`RetryPolicy`; SDK exceptions are translated by
:mod:`.sdk_errors`. The SDK is imported on first use, so listing tasks stays fast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..core.errors import BusyError, NotFoundError
from ..core.resources import Endpoint, Runtime, Version
from ..core.retry import RetryPolicy
from .openapi_errors import translate

_PAGE = 100

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """Where and as whom to call. ``endpoint`` is host[:port] of the AgentRun control plane."""

    endpoint: str
    protocol: str
    region: str
    credentials: Any  # core.credentials.Credentials
    sts_endpoint: str | None = None

    def sdk_config(self, endpoint: str | None = None):
        from alibabacloud_tea_openapi.utils_models import Config

        creds = self.credentials
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


class OpenApiDriver:
    """Typed AgentRun operations: runtimes, versions, endpoints, and the caller's identity."""

    def __init__(self, connection: Connection, policy: RetryPolicy) -> None:
        self.connection = connection
        self.policy = policy
        self._client = None

    # -- plumbing --------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            from alibabacloud_agentrun20250910.client import Client

            self._client = Client(self.connection.sdk_config())
        return self._client

    def _call(self, what: str, fn: Callable[[], Any]) -> dict:
        def attempt():
            try:
                response = fn()
            except Exception as exc:  # noqa: BLE001 - SDK failures are classified, anything else re-raised
                error = translate(exc, what)
                if error is None:
                    raise
                raise error from None
            return response.body.to_map() if response is not None and response.body is not None else {}

        return self.policy.call(attempt)

    def _create(self, what: str, fn: Callable[[], Any], parse: Callable[[Mapping[str, Any]], Any],
                find: Callable[[], Any]) -> Any:
        """A create under the policy. When a *retry* is refused as busy (409: the first attempt succeeded
        but its answer was lost, e.g. to a read timeout), the resource ``find()`` returns is the result."""
        attempts = 0

        def counted():
            nonlocal attempts
            attempts += 1
            return fn()

        try:
            body = self._call(what, counted)
        except BusyError:
            found = find() if attempts > 1 else None
            if found is None:
                raise
            logger.info("%s: an earlier attempt already created it", what)
            return found
        return parse(body.get("data") or {})

    def _all_pages(self, what: str, call: Callable[[int], Any]) -> list[dict]:
        """The items of every page of a list call; ``call(page_number)`` asks for one page of ``_PAGE``."""
        items: list[dict] = []
        number = 1
        while True:
            data = self._call(f"{what} (page {number})" if number > 1 else what,
                              lambda: call(number)).get("data") or {}
            page = data.get("items") or []
            items.extend(page)
            total = data.get("total")
            if len(page) < int(data.get("pageSize") or _PAGE) or (total is not None and len(items) >= int(total)):
                return items
            number += 1

    # -- runtimes --------------------------------------------------------------------------
    def find_runtime(self, name: str) -> Runtime | None:
        from alibabacloud_agentrun20250910 import models as m

        items = self._all_pages(f"find runtime {name!r}", lambda n: self.client.list_agent_runtimes(
            m.ListAgentRuntimesRequest(agent_runtime_name=name, search_mode="exact", page_number=n, page_size=_PAGE)))
        for item in items:
            if item.get("agentRuntimeName") == name:
                return Runtime.from_wire(item)
        return None

    def require_runtime(self, name: str) -> Runtime:
        runtime = self.find_runtime(name)
        if runtime is None:
            raise NotFoundError(f"agent runtime {name!r} does not exist in this environment; run `invoke deploy` first.")
        return runtime

    def get_runtime(self, runtime_id: str) -> Runtime:
        from alibabacloud_agentrun20250910 import models as m

        body = self._call(f"get runtime {runtime_id}",
                          lambda: self.client.get_agent_runtime(runtime_id, m.GetAgentRuntimeRequest()))
        return Runtime.from_wire(body.get("data") or {})

    def create_runtime(self, spec: Mapping[str, Any]) -> Runtime:
        from alibabacloud_agentrun20250910 import models as m

        name = spec["agentRuntimeName"]
        request = m.CreateAgentRuntimeRequest(body=m.CreateAgentRuntimeInput().from_map(dict(spec)))
        return self._create(f"create runtime {name!r}", lambda: self.client.create_agent_runtime(request),
                            Runtime.from_wire, lambda: self.find_runtime(name))

    def update_runtime(self, runtime_id: str, spec: Mapping[str, Any]) -> Runtime:
        from alibabacloud_agentrun20250910 import models as m

        request = m.UpdateAgentRuntimeRequest(body=m.UpdateAgentRuntimeInput().from_map(dict(spec)))
        body = self._call(f"update runtime {runtime_id}",
                          lambda: self.client.update_agent_runtime(runtime_id, request))
        return Runtime.from_wire(body.get("data") or {})

    def delete_runtime(self, runtime_id: str) -> None:
        self._call(f"delete runtime {runtime_id}", lambda: self.client.delete_agent_runtime(runtime_id))

    # -- versions --------------------------------------------------------------------------
    def publish_version(self, runtime_id: str, description: str) -> Version:
        from alibabacloud_agentrun20250910 import models as m

        request = m.PublishRuntimeVersionRequest(
            body=m.PublishRuntimeVersionInput().from_map({"description": description}))
        body = self._call(f"publish a version of {runtime_id}",
                          lambda: self.client.publish_runtime_version(runtime_id, request))
        return Version.from_wire(body.get("data") or {})

    def list_versions(self, runtime_id: str) -> list[Version]:
        from alibabacloud_agentrun20250910 import models as m

        items = self._all_pages(f"list versions of {runtime_id}", lambda n: self.client.list_agent_runtime_versions(
            runtime_id, m.ListAgentRuntimeVersionsRequest(page_number=n, page_size=_PAGE)))
        versions = [Version.from_wire(v) for v in items]
        return sorted(versions, key=lambda v: _version_key(v.version))

    # -- endpoints -------------------------------------------------------------------------
    def list_endpoints(self, runtime_id: str, name: str | None = None) -> list[Endpoint]:
        """Every endpoint of the runtime, or only the one named ``name`` (exact match)."""
        from alibabacloud_agentrun20250910 import models as m

        search = {"endpoint_name": name, "search_mode": "exact"} if name is not None else {}
        what = f"find endpoint {name!r} of {runtime_id}" if name is not None else f"list endpoints of {runtime_id}"
        items = self._all_pages(what, lambda n: self.client.list_agent_runtime_endpoints(
            runtime_id, m.ListAgentRuntimeEndpointsRequest(page_number=n, page_size=_PAGE, **search)))
        return [Endpoint.from_wire(e) for e in items]

    def find_endpoint(self, runtime_id: str, name: str) -> Endpoint | None:
        return next((e for e in self.list_endpoints(runtime_id, name) if e.name == name), None)

    def put_endpoint(self, runtime_id: str, name: str, *, target_version: str,
                     weights: Mapping[str, float] | None = None, description: str | None = None) -> Endpoint:
        """Create or update endpoint ``name`` (upsert by name, like ``s endpoint publish``)."""
        from alibabacloud_agentrun20250910 import models as m

        spec: dict[str, Any] = {"agentRuntimeEndpointName": name, "targetVersion": str(target_version),
                                "routingConfiguration": {"versionWeights": [
                                    {"version": str(v), "weight": float(w)} for v, w in (weights or {}).items()]}}
        if description is not None:
            spec["description"] = description
        existing = self.find_endpoint(runtime_id, name)
        if existing is None:
            request = m.CreateAgentRuntimeEndpointRequest(body=m.CreateAgentRuntimeEndpointInput().from_map(spec))
            return self._create(f"create endpoint {name!r}",
                                lambda: self.client.create_agent_runtime_endpoint(runtime_id, request),
                                Endpoint.from_wire, lambda: self.find_endpoint(runtime_id, name))
        request = m.UpdateAgentRuntimeEndpointRequest(body=m.UpdateAgentRuntimeEndpointInput().from_map(spec))
        body = self._call(f"update endpoint {name!r}", lambda: self.client.update_agent_runtime_endpoint(
            runtime_id, existing.id, request))
        return Endpoint.from_wire(body.get("data") or {})

    def delete_endpoint(self, runtime_id: str, endpoint_id: str) -> None:
        self._call(f"delete endpoint {endpoint_id}",
                   lambda: self.client.delete_agent_runtime_endpoint(runtime_id, endpoint_id))

    # -- identity --------------------------------------------------------------------------
    def caller_identity(self) -> dict:
        """STS GetCallerIdentity: the cheapest proof that the credentials work."""
        from alibabacloud_sts20150401.client import Client as StsClient

        conn = self.connection
        sts = StsClient(conn.sdk_config(conn.sts_endpoint or f"sts.{conn.region}.aliyuncs.com"))
        body = self._call("verify the credentials (STS GetCallerIdentity)", sts.get_caller_identity)
        return {k: body.get(k) for k in ("AccountId", "Arn", "IdentityType", "PrincipalId", "UserId")}


def _version_key(version: str) -> tuple:
    return (0, int(version), "") if version.isdigit() else (1, 0, version)
