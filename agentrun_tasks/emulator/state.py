"""The emulator's persistent store: account, RAM users and keys, runtimes, versions, endpoints.

Everything lives in one JSON document, ``<root>/.agentrun/local/state.json`` (mode 0600: it
holds the AccessKey secrets the emulator verifies signatures with), rewritten atomically
(temporary file + rename) after each mutation and reloaded on start. Records keep the API's
field names, so a handler returns them as they are; private fields start with ``_`` and are
stripped by :func:`public`.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from ..core.fileio import write_atomic
from .spec import ProcessSpec

STATE_DIR = Path(".agentrun") / "local"
INFO_FILE = "emulator.json"  # in the state dir: where a running emulator says it listens
LATEST = "LATEST"


def state_dir(root: Path) -> Path:
    """``<root>/.agentrun/local``: state, packages, logs and ``emulator.json``."""
    return Path(root).resolve() / STATE_DIR


def now_iso() -> str:
    """A timestamp as the cloud writes them (UTC, second precision)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_id() -> str:
    return str(uuid.uuid4())


def public(record: dict) -> dict:
    """The record as the API shows it: private ``_`` fields removed."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


class State:
    """In-memory view of ``state.json``; every mutating caller ends with :meth:`save`."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.dir = state_dir(self.root)
        self.path = self.dir / "state.json"
        self.base_url = ""  # set by the server once it listens: endpoint URLs are built from it
        self.account: dict[str, Any] = {}
        self.users: dict[str, dict] = {}
        self.keys: dict[str, dict] = {}
        self.runtimes: dict[str, dict] = {}
        self.versions: dict[str, list[dict]] = {}
        self.endpoints: dict[str, dict] = {}
        self.credentials: dict[str, dict] = {}  # data-plane credentials by credentialName
        self.workspaces: dict[str, dict] = {}
        self.roles: dict[str, dict] = {}  # RAM roles by RoleName (emulator/federation.py)
        self.oidc_providers: dict[str, dict] = {}  # IMS OIDC providers by OIDCProviderName
        # (runtime name, endpoint name) -> (runtime record, its _spec then, routes); see routes_for.
        self._routes: dict[tuple[str, str], tuple[dict, dict | None, list[tuple[ProcessSpec, float]] | None]] = {}
        self.load()

    # -- persistence ---------------------------------------------------------------------------
    def load(self) -> None:
        self._routes.clear()
        if not self.path.exists():
            return
        doc = json.loads(self.path.read_text(encoding="utf-8"))
        self.account = doc.get("account", {})
        self.users = doc.get("users", {})
        self.keys = doc.get("keys", {})
        self.runtimes = doc.get("runtimes", {})
        self.versions = doc.get("versions", {})
        self.endpoints = doc.get("endpoints", {})
        self.credentials = doc.get("credentials", {})
        self.workspaces = doc.get("workspaces", {})
        self.roles = doc.get("roles", {})
        self.oidc_providers = doc.get("oidc_providers", {})

    def save(self) -> None:
        """Write the whole document atomically, readable by the owner only.

        Every mutation ends here, so this is also where the cached routes are dropped.
        """
        self._routes.clear()
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        doc = {"account": self.account, "users": self.users, "keys": self.keys,
               "runtimes": self.runtimes, "versions": self.versions, "endpoints": self.endpoints,
               "credentials": self.credentials, "workspaces": self.workspaces,
               "roles": self.roles, "oidc_providers": self.oidc_providers}
        write_atomic(self.path, json.dumps(doc, indent=1, sort_keys=True).encode("utf-8"))

    # -- lookups -------------------------------------------------------------------------------
    def runtime_by_name(self, name: str) -> dict | None:
        """The runtime record named ``name`` (API fields plus private ``_spec``), or None."""
        return next((r for r in self.runtimes.values() if r["agentRuntimeName"] == name), None)

    def endpoints_of(self, runtime_id: str) -> list[dict]:
        return [e for e in self.endpoints.values() if e["agentRuntimeId"] == runtime_id]

    def version(self, runtime_id: str, version: str) -> dict | None:
        return next((v for v in self.versions.get(runtime_id, []) if v["agentRuntimeVersion"] == version), None)

    def endpoint_url(self, runtime_name: str, endpoint_name: str) -> str:
        return f"{self.base_url}/agent-runtimes/{runtime_name}/endpoints/{endpoint_name}/invocations"

    # -- what the data plane runs --------------------------------------------------------------
    def spec_for(self, runtime: dict, version: str) -> ProcessSpec | None:
        """The process of one version of ``runtime`` ("LATEST" or a published number)."""
        if version == LATEST:
            snapshot = runtime.get("_spec")
        else:
            record = self.version(runtime["agentRuntimeId"], version)
            snapshot = record and record.get("_spec")
        return self.make_spec(runtime, version, snapshot) if snapshot else None

    def make_spec(self, runtime: dict, version: str, snapshot: dict) -> ProcessSpec:
        """A spec from a code snapshot ``{package, command, port, env}``."""
        return ProcessSpec(
            runtime_id=runtime["agentRuntimeId"],
            runtime_name=runtime["agentRuntimeName"],
            version=version,
            workdir=self.dir / "packages" / snapshot["package"],
            command=tuple(snapshot["command"]),
            port=int(snapshot["port"]),
            env=dict(snapshot.get("env") or {}),
            package_sha256=snapshot["package"],
        )

    def routes_for(self, runtime_name: str, endpoint_name: str) -> list[tuple[ProcessSpec, float]] | None:
        """Where an endpoint sends traffic: ``[(spec, weight), ...]`` with weights summing to 1.

        The endpoint's ``targetVersion`` gets ``1 - sum(versionWeights)``; versions with no
        weight are left out. None if the runtime or endpoint does not exist or has no code yet.

        Called on every data-plane request, so the answer for an existing endpoint is cached
        until the next :meth:`save` or :meth:`load`, or until the runtime's LATEST code
        (``_spec``) is replaced: a deployment swaps it and awaits the old process's stop before
        it saves, and requests in between must already reach the new code.
        """
        cached = self._routes.get((runtime_name, endpoint_name))
        if cached is not None and cached[0].get("_spec") is cached[1]:
            return cached[2]
        runtime = self.runtime_by_name(runtime_name)
        if runtime is None:
            return None
        endpoint = next((e for e in self.endpoints_of(runtime["agentRuntimeId"])
                         if e["agentRuntimeEndpointName"] == endpoint_name), None)
        if endpoint is None:
            return None  # not cached: unknown names must not grow the cache
        routes = self._compute_routes(runtime, endpoint)
        self._routes[(runtime_name, endpoint_name)] = (runtime, runtime.get("_spec"), routes)
        return routes

    def routed_keys(self) -> set[str]:
        """The process keys some endpoint routes to now, or will once an update in flight lands."""
        keys: set[str] = set()
        for endpoint in list(self.endpoints.values()):
            runtime = self.runtimes.get(endpoint["agentRuntimeId"])
            if runtime is None:
                continue
            for view in (endpoint, {**endpoint, "status": "READY", "_active": None}):
                keys.update(spec.key for spec, _ in self._compute_routes(runtime, view) or [])
        return keys

    def credential_for(self, runtime_name: str) -> tuple[str, str] | None:
        """``(header, secret)`` a data-plane call of the runtime must carry, or None if it needs none."""
        runtime = self.runtime_by_name(runtime_name)
        name = runtime and runtime.get("credentialName")
        if not name:
            return None
        credential = self.credentials.get(name) or {}
        header = (credential.get("credentialPublicConfig") or {}).get("headerKey") or "X-API-Key"
        return header, credential.get("_secret") or ""

    def _compute_routes(self, runtime: dict, endpoint: dict) -> list[tuple[ProcessSpec, float]] | None:
        """:meth:`routes_for` of an existing runtime and endpoint, uncached: what the endpoint
        routed before an update in flight (``_active``); nothing while it is being created."""
        if endpoint.get("status") == "CREATING":
            return None
        endpoint = {**endpoint, **(endpoint.get("_active") or {})}
        weights = (endpoint.get("routingConfiguration") or {}).get("versionWeights") or []
        shares: dict[str, float] = {}
        for item in weights:
            shares[str(item["version"])] = shares.get(str(item["version"]), 0.0) + float(item["weight"])
        target = endpoint.get("targetVersion") or LATEST
        shares[target] = shares.get(target, 0.0) + max(0.0, 1.0 - sum(float(w["weight"]) for w in weights))
        routes = []
        for version, weight in shares.items():
            spec = self.spec_for(runtime, version)
            if spec is None:
                return None
            if weight > 0:
                routes.append((spec, weight))
        return routes or None
