"""AgentRun 2025-09-10 control plane (ROA/JSON): runtimes, versions and endpoints.

Paths, fields and statuses are those ``alibabacloud_agentrun20250910`` sends and parses. Each
handler takes the request and its parsed JSON body and returns the ``data`` of the
``{code, requestId, data}`` envelope; errors are :class:`~.auth.ApiError` with the codes the
SDK's ErrorResult documents (``ERR_VALIDATION_FAILED`` 400) plus ``ERR_NOT_FOUND`` (404, message
"... does not exist") and ``ERR_CONFLICT`` (409, busy). "Already exists" is 400 for a runtime,
409 for an endpoint and 500 for a credential: agentrun-sdk's ``to_resource_error`` accepts all
three with "already exists" in the message, so a client must classify on the message.

A runtime create or update answers at once and deploys in the background: its process starts,
then ``RUNTIME_UPDATE_S`` (scaled by the ``latency`` setting) passes before it is READY. While it
is CREATING or UPDATING, publishing a version and every endpoint write are refused (400).

Emulator choices where cloud behaviour is unverified: an endpoint update without
``routingConfiguration`` clears the weights (``sticky_split`` keeps them); a runtime that still
has endpoints cannot be deleted; unpacked code is capped at ``packages.MAX_UNPACKED``; a container
agent runs as a local process of its command (see :mod:`.containers`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib

from ..core.build import crc64
from .api_keys import ApiKeyRoutes
from .auth import ApiError
from .containers import container_snapshot
from .endpoints import NAME, EndpointRoutes, name_matches, not_ready
from .endpoints import invalid as _invalid
from .endpoints import missing as _missing
from .endpoints import page as _page
from .faults import ENDPOINT_WRITE_S, RUNTIME_UPDATE_S, Faults
from .oss import read_object
from .packages import CodeTooLarge, store_zip, unpack
from .state import LATEST, State, new_id, now_iso, public
from .supervisor import StartFailed
from .workspaces import WorkspaceRoutes

PREFIX = "/2025-09-10/agents/runtimes"
BUSY = ("CREATING", "UPDATING")
DEFAULT_PORT = 9000


class ControlPlane(EndpointRoutes, ApiKeyRoutes, WorkspaceRoutes):
    """Route handlers over one :class:`State` and the data plane's supervisor."""

    def __init__(self, state: State, supervisor, faults=Faults):
        self.state = state
        self.supervisor = supervisor
        self.faults = faults  # () -> the current Faults (they change at run time)
        self._deploys: dict[str, asyncio.Task] = {}
        self._settling: dict[str, asyncio.Task] = {}

    def routes(self) -> list[tuple[str, str, object]]:
        rt, ep = PREFIX + "/{runtimeId}", PREFIX + "/{runtimeId}/endpoints/{endpointId}"
        return [
            ("POST", PREFIX, self.create_runtime), ("GET", PREFIX, self.list_runtimes),
            ("GET", rt, self.get_runtime), ("PUT", rt, self.update_runtime), ("DELETE", rt, self.delete_runtime),
            ("POST", rt + "/versions", self.publish_version), ("GET", rt + "/versions", self.list_versions),
            ("POST", rt + "/endpoints", self.create_endpoint), ("GET", rt + "/endpoints", self.list_endpoints),
            ("GET", ep, self.get_endpoint), ("PUT", ep, self.update_endpoint), ("DELETE", ep, self.delete_endpoint),
            *self.credential_routes(), *self.workspace_routes(),
        ]

    # -- runtimes ------------------------------------------------------------------------------
    def _runtime(self, request) -> dict:
        ident = request.match_info["runtimeId"]
        runtime = self.state.runtimes.get(ident)
        if runtime is None:
            raise _missing("AgentRuntime", ident)
        return runtime

    async def create_runtime(self, request, body: dict) -> dict:
        name = body.get("agentRuntimeName") or ""
        if not NAME.match(name):
            raise _invalid(f"agentRuntimeName {name!r} is invalid: letters, digits, '_' and '-', "
                           "starting with a letter, at most 128 characters.")
        if self.state.runtime_by_name(name) is not None:
            raise _invalid(f"AgentRuntime {name} already exists.")
        snapshot = self._code_snapshot(body, None)
        workspace = self.workspace_of(body)
        ident, stamp = new_id(), now_iso()
        record = {k: v for k, v in body.items() if k != "codeConfiguration"}
        record.update(
            agentRuntimeId=ident, agentRuntimeName=name, agentRuntimeVersion=LATEST,
            agentRuntimeArn=f"acs:agentrun:local:{self.state.account['id']}:runtimes/{ident}", workspaceId=workspace,
            artifactType=body.get("artifactType") or "Code", port=body.get("port") or DEFAULT_PORT,
            codeConfiguration=_public_code(body.get("codeConfiguration") or {}), createdAt=stamp, lastUpdatedAt=stamp,
            status="CREATING", statusReason="", _pending=snapshot)
        self.state.runtimes[ident] = record
        self.state.save()
        self._start_deploy(ident)
        return public(record)

    async def update_runtime(self, request, body: dict) -> dict:
        runtime = self._runtime(request)
        if runtime["status"] in BUSY:
            raise ApiError(409, "ERR_CONFLICT", f"AgentRuntime {runtime['agentRuntimeName']} is "
                           f"{runtime['status']}: wait until it is READY or failed, then update it again.")
        name = body.get("agentRuntimeName")
        if name and name != runtime["agentRuntimeName"]:
            raise _invalid("agentRuntimeName cannot be changed.")
        snapshot = self._code_snapshot(body, runtime)
        if body.get("workspaceId") and self.workspace_of(body) != self.workspace_of({}, runtime):
            raise _invalid("workspaceId cannot be changed: a runtime stays in the workspace it was created in.")
        before = runtime["status"]
        runtime.update({k: v for k, v in body.items() if k != "codeConfiguration"})
        if body.get("codeConfiguration"):
            runtime["codeConfiguration"] = _public_code(body["codeConfiguration"])
        runtime.update(status="UPDATING", statusReason="", lastUpdatedAt=now_iso(), _pending=snapshot)
        self.state.save()
        self._start_deploy(runtime["agentRuntimeId"])
        if self.faults().on("stale_update_status"):
            return {**public(runtime), "status": before}
        return public(runtime)

    async def get_runtime(self, request, body: dict) -> dict:
        runtime = self._runtime(request)
        version = request.query.get("agentRuntimeVersion")
        if version and version != LATEST:
            record = self.state.version(runtime["agentRuntimeId"], version)
            if record is None:
                raise _missing(f"Version {version} of AgentRuntime", runtime["agentRuntimeName"])
            return {**public(runtime), "agentRuntimeVersion": version}
        return public(runtime)

    async def list_runtimes(self, request, body: dict) -> dict:
        q = request.query
        items = [public(r) for r in self.state.runtimes.values()
                 if name_matches(r["agentRuntimeName"], q.get("agentRuntimeName"), q.get("searchMode"))
                 and (not q.get("status") or r["status"] == q["status"])
                 and (not q.get("workspaceId") or r.get("workspaceId") == q["workspaceId"])]
        return _page(q, sorted(items, key=lambda r: r["createdAt"]))

    async def delete_runtime(self, request, body: dict) -> dict:
        runtime = self._runtime(request)
        ident = runtime["agentRuntimeId"]
        left = [e["agentRuntimeEndpointName"] for e in self.state.endpoints_of(ident)]
        if left:
            raise _invalid(f"AgentRuntime {runtime['agentRuntimeName']} still has endpoints ({', '.join(left)}): "
                           "delete them and wait until they are gone first.")
        task = self._deploys.pop(ident, None)
        if task is not None:
            task.cancel()
        pending = runtime.get("_pending")
        specs = [self.state.spec_for(runtime, LATEST),
                 pending and self.state.make_spec(runtime, LATEST, pending)] + [
            self.state.spec_for(runtime, v["agentRuntimeVersion"]) for v in self.state.versions.get(ident, [])]
        self.state.versions.pop(ident, None)
        del self.state.runtimes[ident]
        self.state.save()
        for spec in filter(None, specs):
            await self.supervisor.stop(spec.key)
        return {**public(runtime), "status": "DELETING"}

    def _code_snapshot(self, body: dict, runtime: dict | None) -> dict:
        """Validate the code of a create/update and store its zip; the process snapshot to deploy."""
        code = body.get("codeConfiguration")
        if body.get("containerConfiguration") or (body.get("artifactType") or (runtime or {}).get(
                "artifactType")) == "Container":
            return container_snapshot(body, runtime, self.state.dir / "packages", DEFAULT_PORT)
        previous = (runtime or {}).get("_spec") or {}
        if not code:
            if runtime is None or not previous:
                raise _invalid("codeConfiguration with zipFile is required.")
            package = previous["package"]
        else:
            package = self._store_code(code)
            if not code.get("command"):
                raise _invalid("codeConfiguration.command is required, e.g. [\"python3\", \"app.py\"].")
        source = {**(runtime or {}), **body}
        command = code["command"] if code else previous["command"]  # every stored snapshot has one
        return {"package": package, "command": list(command), "port": int(source.get("port") or DEFAULT_PORT),
                "env": {str(k): str(v) for k, v in (source.get("environmentVariables") or {}).items()}}

    def _store_code(self, code: dict) -> str:
        if code.get("ossBucketName") or code.get("ossObjectName"):
            data = read_object(self.state.dir / "oss", code.get("ossBucketName") or "", code.get("ossObjectName") or "")
            if data is None:
                raise _invalid(f"OSS object oss://{code.get('ossBucketName')}/{code.get('ossObjectName')} "
                               "does not exist; upload the package first.")
        else:
            try:
                data = base64.b64decode(code.get("zipFile") or "", validate=True)
            except (binascii.Error, ValueError):
                raise _invalid("codeConfiguration.zipFile is not valid base64.") from None
        if not data:
            raise _invalid("codeConfiguration.zipFile is required.")
        checksum = code.get("checksum")
        if checksum and str(checksum) != str(crc64(data)):
            raise _invalid(f"codeConfiguration.checksum {checksum} does not match the CRC-64/ECMA of zipFile "
                           f"({crc64(data)}).")
        sha = hashlib.sha256(data).hexdigest()
        try:
            if not store_zip(self.state.dir / "packages", sha, data):
                raise _invalid("codeConfiguration.zipFile is not a zip archive.")
        except CodeTooLarge as exc:
            raise _invalid(f"codeConfiguration: {exc}") from None
        return sha

    def deploying(self) -> set[str]:
        """Process keys of deployments in flight (not idle: their runtime is about to serve them)."""
        keys = set()
        for ident in list(self._deploys):
            runtime = self.state.runtimes.get(ident)
            if runtime is not None and runtime.get("_pending"):
                keys.add(self.state.make_spec(runtime, LATEST, runtime["_pending"]).key)
        return keys

    # -- deployment in the background -----------------------------------------------------------
    def _start_deploy(self, ident: str) -> None:
        self._deploys[ident] = asyncio.get_running_loop().create_task(self._deploy(ident))

    def resume(self) -> None:
        """After a restart: finish deployments and endpoint writes in flight when the emulator stopped."""
        for ident, runtime in self.state.runtimes.items():
            if runtime["status"] in BUSY:
                self._start_deploy(ident)
        for ident, endpoint in list(self.state.endpoints.items()):
            if endpoint["status"] != "READY":
                self.settle_endpoint(ident)

    def settle_endpoint(self, ident: str) -> None:
        """Finish an endpoint write after ``ENDPOINT_WRITE_S``: READY with its URL, or gone."""
        self._settling[ident] = asyncio.get_running_loop().create_task(
            self._settle(ident, self.faults().delay(ENDPOINT_WRITE_S)))

    async def _settle(self, ident: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self._settling.pop(ident, None)
        endpoint = self.state.endpoints.get(ident)
        runtime = endpoint and self.state.runtimes.get(endpoint["agentRuntimeId"])
        if endpoint is None:
            return
        if endpoint["status"] == "DELETING" or runtime is None:
            del self.state.endpoints[ident]
        else:
            endpoint.pop("_active", None)
            endpoint.update(status="READY", lastUpdatedAt=now_iso(), endpointPublicUrl=self.state.endpoint_url(
                runtime["agentRuntimeName"], endpoint["agentRuntimeEndpointName"]))
        self.state.save()

    async def _deploy(self, ident: str) -> None:
        runtime = self.state.runtimes[ident]
        snapshot = runtime["_pending"]
        failed = "CREATE_FAILED" if runtime["status"] == "CREATING" else "UPDATE_FAILED"
        spec = self.state.make_spec(runtime, LATEST, snapshot)
        old = self.state.spec_for(runtime, LATEST)
        try:
            await asyncio.to_thread(unpack, self.state.dir / "packages", snapshot["package"])
            await self.supervisor.start(spec)
            await asyncio.sleep(self.faults().delay(RUNTIME_UPDATE_S))
        except StartFailed as exc:
            runtime.update(status=failed, statusReason=str(exc))
        except (OSError, ValueError) as exc:
            runtime.update(status=failed, statusReason=f"could not unpack the code package: {exc}")
        else:
            runtime.update(status="READY", statusReason="", _spec=snapshot)
        runtime.pop("_pending", None)
        runtime["lastUpdatedAt"] = now_iso()
        self._deploys.pop(ident, None)
        self.state.save()  # before stopping the old process, so no request is routed back to it
        if runtime["status"] == "READY" and old is not None and old.key != spec.key:
            await self.supervisor.stop(old.key)

    # -- versions ------------------------------------------------------------------------------
    async def publish_version(self, request, body: dict) -> dict:
        runtime = self._runtime(request)
        if runtime["status"] != "READY":
            raise not_ready("AgentRuntime", runtime["agentRuntimeName"], runtime["status"])
        ident = runtime["agentRuntimeId"]
        versions = self.state.versions.setdefault(ident, [])
        number = str(max((int(v["agentRuntimeVersion"]) for v in versions), default=0) + 1)
        record = {"agentRuntimeArn": runtime["agentRuntimeArn"], "agentRuntimeId": ident,
                  "agentRuntimeName": runtime["agentRuntimeName"], "agentRuntimeVersion": number,
                  "description": body.get("description") or "", "lastUpdatedAt": now_iso(),
                  "_spec": dict(runtime["_spec"])}
        if body.get("publisher"):
            record["publisher"] = body["publisher"]
        versions.append(record)
        self.state.save()
        return public(record)

    async def list_versions(self, request, body: dict) -> dict:
        runtime = self._runtime(request)
        items = [public(v) for v in self.state.versions.get(runtime["agentRuntimeId"], [])]
        return _page(request.query, items)



def _public_code(code: dict) -> dict:
    """What GET shows of codeConfiguration: everything but the (large) inline zip."""
    return {k: v for k, v in code.items() if k != "zipFile"}
