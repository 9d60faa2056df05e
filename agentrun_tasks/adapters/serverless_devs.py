"""``driver: serverless-devs``: the Driver protocol through the real ``s`` CLI and the devsapp
agentrun component (pinned), for teams whose pipelines must keep ``s``.

The driver writes one s.yaml per environment under ``.agentrun/s/<env>/`` (mode 0600: it holds
the agent's environment variables) from the env file's ``agent:`` block, so ``s`` sees the
same agent the openapi driver deploys; a deploy puts the package agentrun-tasks built (the
unzipped inline package, or its OSS object) in ``code``. The component addresses the runtime by
name, so ids map to the one agent of the environment. Differences from the openapi driver, all
from the component: ``s info`` has no code checksum (every deploy updates the runtime, and the
checksum of the package the driver deployed is kept beside its s.yaml), one
canary version per endpoint, and ``s version publish`` answers no number (the newest listed
version after it is the one published).
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from base64 import b64decode
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError, NotFoundError
from ..core.fileio import write_atomic
from ..core.model import EnvConfig
from ..core.resources import Endpoint, Runtime, Version, required
from . import s_cli

if TYPE_CHECKING:
    from ..core.ports import AccountKey, Driver


class ServerlessDevsDriver:
    def __init__(self, cli: s_cli.SCli, env: EnvConfig, workdir: Path, identity: Driver) -> None:
        self.cli, self.env, self.workdir, self.identity = cli, env, workdir, identity
        self._endpoint_names: dict[str, str] = {}  # endpoint id -> name (the component takes names)

    @classmethod
    def open(cls, env: EnvConfig, root: Path, environ: Mapping[str, str], credentials: AccountKey, *,
             identity: Driver) -> ServerlessDevsDriver:
        """The driver for ``env``; ``identity`` answers ``caller_identity`` (``s`` has no such command)."""
        binary = s_cli.locate(root, environ)
        if binary is None:
            raise ConfigError(f"{env.path.name} uses driver: serverless-devs, but the Serverless Devs CLI `s` is "
                              "not installed.", hint="Run `invoke doctor --fix` to install the pinned version into "
                              f"{s_cli.LOCAL_DIR}, or put `s` on PATH.")
        workdir = root / ".agentrun" / "s" / env.name
        workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        cli = s_cli.SCli(binary, workdir / "s.yaml", environ, credentials, env.retry_policy,
                         timeout=env.deploy_timeout + 300)
        driver = cls(cli, env, workdir, identity)
        driver.write_template()
        return driver

    # -- the s.yaml ------------------------------------------------------------------------
    def write_template(self, code: Mapping[str, Any] | None = None) -> None:
        """The s.yaml ``s`` reads: the env's agent, with ``code`` replacing its code block."""
        agent = json.loads(json.dumps(self.env.agent))
        if code is not None:
            agent["code"] = dict(code)
        elif "code" in agent and "src" in agent["code"]:
            agent["code"]["src"] = str(self.env.code_dir)
        doc = {"edition": "3.0.0", "name": f"agentrun-tasks-{self.env.name}",
               "resources": {"agent": {"component": s_cli.COMPONENT,
                                       "props": {"region": self.env.region, "agent": agent}}}}
        write_atomic(self.cli.template, json.dumps(doc, indent=2).encode(), mode=0o600)  # JSON is YAML

    def _name(self, name: str) -> str:
        if name != self.env.agent_name:
            raise ConfigError(f"the serverless-devs driver manages only {self.env.agent_name!r} (the agent of "
                              f"{self.env.path.name}), not {name!r}.")
        return name

    # -- runtimes --------------------------------------------------------------------------
    def find_runtime(self, name: str) -> Runtime | None:
        self._name(name)
        try:
            info = self.cli.read(["info"])
        except NotFoundError:
            return None
        agent = info.get("agent") or {}
        for endpoint in agent.get("endpoints") or []:
            self._endpoint_names[str(endpoint.get("id"))] = endpoint.get("name", "")
        runtime = runtime_from_info(agent)
        deployed = self._deployed()
        if deployed.get("id") == runtime.id and deployed.get("updatedAt") == runtime.updated_at:
            runtime = replace(runtime, checksum=deployed.get("checksum", ""))
        return runtime

    def _deployed(self) -> dict:
        """What this driver last deployed: ``s info`` shows no code checksum, so the package's is
        kept beside the s.yaml, valid while the runtime's lastUpdatedAt is the one it had then."""
        try:
            return json.loads((self.workdir / "deployed.json").read_text())
        except (OSError, ValueError):
            return {}

    def require_runtime(self, name: str) -> Runtime:
        return required(self.find_runtime(name), name)

    def get_runtime(self, runtime_id: str) -> Runtime:
        return self.require_runtime(self.env.agent_name)

    def create_runtime(self, spec: Mapping[str, Any]) -> Runtime:
        return self._deploy(spec)

    def update_runtime(self, runtime_id: str, spec: Mapping[str, Any]) -> Runtime:
        return self._deploy(spec)

    def _deploy(self, spec: Mapping[str, Any]) -> Runtime:
        self._name(spec["agentRuntimeName"])
        self.write_template(self._code(spec.get("codeConfiguration")))
        try:
            self.cli.mutate(["deploy", "--assume-yes"])
        finally:
            self.write_template()
        runtime = self.require_runtime(self.env.agent_name)
        checksum = str((spec.get("codeConfiguration") or {}).get("checksum") or "")
        write_atomic(self.workdir / "deployed.json", json.dumps(
            {"id": runtime.id, "updatedAt": runtime.updated_at, "checksum": checksum}).encode())
        return replace(runtime, checksum=checksum)

    def _code(self, wire: Mapping[str, Any] | None) -> dict | None:
        """The component's ``code`` for the package in a runtime spec: its zip unpacked into a
        folder the component zips again, or the OSS object it was uploaded to."""
        if wire is None:
            return None
        code = {k: wire[k] for k in ("language", "command") if wire.get(k)}
        if wire.get("ossBucketName"):
            return {**code, "ossBucketName": wire["ossBucketName"], "ossObjectName": wire["ossObjectName"]}
        folder = self.workdir / "code"
        shutil.rmtree(folder, ignore_errors=True)
        with zipfile.ZipFile(io.BytesIO(b64decode(wire["zipFile"]))) as package:
            package.extractall(folder)
        return {**code, "src": str(folder)}

    def delete_runtime(self, runtime_id: str) -> None:
        self.cli.mutate(["remove", "--assume-yes"])

    # -- versions --------------------------------------------------------------------------
    def publish_version(self, runtime_id: str, description: str) -> Version:
        before = {v.version for v in self.list_versions(runtime_id)}
        self.cli.mutate(["version", "publish", "--description", description])
        new = [v for v in self.list_versions(runtime_id) if v.version not in before]
        return new[-1] if new else self.list_versions(runtime_id)[-1]

    def list_versions(self, runtime_id: str) -> list[Version]:
        items = self.cli.read(["version", "list"])
        versions = [Version(version=str(v.get("version", "")), description=v.get("description") or "",
                            updated_at=v.get("lastUpdatedAt") or "") for v in _items(items)]
        return sorted(versions, key=lambda v: (0, int(v.version), "") if v.version.isdigit() else (1, 0, v.version))

    # -- endpoints -------------------------------------------------------------------------
    def list_endpoints(self, runtime_id: str, name: str | None = None) -> list[Endpoint]:
        info = self.cli.read(["info"])
        endpoints = [endpoint_from_info(e, runtime_id) for e in (info.get("agent") or {}).get("endpoints") or []]
        self._endpoint_names.update({e.id: e.name for e in endpoints})
        return [e for e in endpoints if name is None or e.name == name]

    def find_endpoint(self, runtime_id: str, name: str) -> Endpoint | None:
        try:
            found = self.cli.read(["endpoint", "get", "--endpoint-name", name])
        except NotFoundError:
            return None
        endpoint = endpoint_from_get(found, runtime_id)
        self._endpoint_names[endpoint.id] = endpoint.name
        return endpoint

    def put_endpoint(self, runtime_id: str, name: str, *, target_version: str,
                     weights: Mapping[str, float] | None = None, description: str | None = None) -> Endpoint:
        """``s endpoint publish``: the target version, and at most one canary version with its
        weight (the component's flags: ``--canary-version`` with ``--weight``)."""
        canary = {str(v): float(w) for v, w in (weights or {}).items() if w > 0 and str(v) != str(target_version)}
        if len(canary) > 1:
            raise ConfigError(f"the serverless-devs driver routes to one canary version per endpoint, not "
                              f"{len(canary)} ({', '.join(canary)}); use driver: openapi for that.")
        args = ["endpoint", "publish", "--endpoint-name", name, "--target-version", str(target_version)]
        for version, weight in canary.items():
            args += ["--canary-version", version, "--weight", f"{weight:g}"]
        if description is not None:
            args += ["--description", description]
        self.cli.mutate(args)
        endpoint = self.find_endpoint(runtime_id, name)
        if endpoint is not None and not canary and endpoint.weights:
            # A publish without a canary sends no routing at all, so the old split may stay:
            # route the old canary's share to the target itself, which the planner reads as none.
            self.cli.mutate([*args, "--canary-version", str(target_version), "--weight", "0"])
            endpoint = self.find_endpoint(runtime_id, name)
        if endpoint is None:
            raise NotFoundError(f"endpoint {name!r} is not there after `s endpoint publish` answered success.")
        return endpoint

    def delete_endpoint(self, runtime_id: str, endpoint_id: str) -> None:
        name = self._endpoint_names.get(endpoint_id)
        if name is None:
            self.list_endpoints(runtime_id)
            name = self._endpoint_names.get(endpoint_id)
        if name is None:
            return  # already gone
        self.cli.mutate(["endpoint", "remove", "--endpoint-name", name, "--assume-yes"])

    # -- logs and identity -----------------------------------------------------------------
    def logs(self, start: datetime, end: datetime, *, failed_only: bool = False) -> Any:
        """``s logs`` between two instants, given as ISO ``yyyy-MM-ddTHH:mm:ssZ`` (the forms fc3
        accepts are that and milliseconds; "5 minutes ago" is not one)."""
        args = ["logs", "--start-time", _iso(start), "--end-time", _iso(end)]
        return self.cli.read([*args, "--type", "fail"] if failed_only else args)

    def caller_identity(self) -> dict:
        return self.identity.caller_identity()


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _items(value: Any) -> list:
    return value if isinstance(value, list) else list(value.get("versions") or value.get("items") or [])


def runtime_from_info(agent: Mapping[str, Any]) -> Runtime:
    """A :class:`Runtime` from ``s info``'s ``agent`` (no code checksum there)."""
    stamps = agent.get("timestamps") or {}
    return Runtime(id=str(agent.get("id") or ""), name=agent.get("name") or "", status=agent.get("status") or "",
                   description=agent.get("description") or "", created_at=stamps.get("createdAt") or "",
                   updated_at=stamps.get("lastUpdatedAt") or "", raw=dict(agent))


def endpoint_from_info(data: Mapping[str, Any], runtime_id: str) -> Endpoint:
    """An endpoint of ``s info`` (``version`` is its target; ``routingConfig.weights``)."""
    weights = (data.get("routingConfig") or {}).get("weights") or []
    return _endpoint(data, runtime_id, data.get("version"), weights)


def endpoint_from_get(data: Mapping[str, Any], runtime_id: str) -> Endpoint:
    """``s endpoint get`` (``targetVersion``; ``routingConfig`` is the API's routingConfiguration)."""
    weights = (data.get("routingConfig") or {}).get("versionWeights") or []
    return _endpoint(data, runtime_id, data.get("targetVersion"), weights)


def _endpoint(data: Mapping[str, Any], runtime_id: str, target: Any, weights: list) -> Endpoint:
    target = str(target or "LATEST")
    split = {str(w.get("version")): float(w.get("weight") or 0) for w in weights}
    return Endpoint(id=str(data.get("id") or ""), name=data.get("name") or "", runtime_id=runtime_id,
                    target_version=target, weights={v: w for v, w in split.items() if w > 0 and v != target},
                    url=_dash(data.get("url")), status=_dash(data.get("status")),
                    description=_dash(data.get("description")))


def _dash(value: Any) -> str:
    """The component prints ``-`` for a missing value."""
    return "" if value in (None, "-") else str(value)
