"""The emulator's one aiohttp application: AgentRun control plane, RAM/STS, data plane, admin.

Signed routes (``/2025-09-10/...`` and RPC ``POST /``) go through one gate: injected faults,
then the ACS3 signature, then the handler. Errors that the gateway would answer (signature,
key, throttling) use the gateway's ``{"Code", "Message", "RequestId"}``; AgentRun's own errors
use ``{"code", "message", "requestId"}``. Admin routes under ``/_emulator/`` answer loopback
clients that show the admin token (:mod:`.admin`) only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from pathlib import Path

from aiohttp import web

from . import account, admin, federation, rpc
from .auth import ApiError, Verifier
from .control import ControlPlane
from .dataplane import add_routes
from .faults import ENV_VAR, RETRY_AFTER, Faults
from .requestlog import RequestLog
from .state import State, now_iso
from .supervisor import Supervisor

log = logging.getLogger(__name__)
_LOOPBACK = ("127.0.0.1", "::1")
_SWEEPER = web.AppKey("idle_sweeper", asyncio.Task)


class Emulator:
    """State, account, verifier, faults and the data plane's supervisor of one root."""

    def __init__(self, root: Path, faults: Faults | None = None):
        self.state = State(root)
        if account.bootstrap(self.state):
            log.info("created local account %s with user %s; its key is in %s",
                     self.state.account["id"], account.BOOTSTRAP_USER, self.state.root / account.ENV_FILE)
        self.verifier = Verifier(self.state.keys)
        self.admin_token = admin.ensure_token(self.state.dir)
        self.faults = faults if faults is not None else Faults.parse(os.environ.get(ENV_VAR, ""))
        self.supervisor = Supervisor(self.state.dir / "logs")
        self.requestlog = RequestLog(self.state.dir / "requests.sqlite")
        self.control = ControlPlane(self.state, self.supervisor, lambda: self.faults)
        self.port = 0

    def listening(self, port: int) -> None:
        """Record the bound port; endpoint URLs follow it (it may change between runs)."""
        self.port = port
        self.state.base_url = f"http://127.0.0.1:{port}"
        for endpoint in self.state.endpoints.values():
            runtime = self.state.runtimes.get(endpoint["agentRuntimeId"])
            if runtime is not None:
                endpoint["endpointPublicUrl"] = self.state.endpoint_url(
                    runtime["agentRuntimeName"], endpoint["agentRuntimeEndpointName"])
        self.state.save()

    def active_secret(self, access_key_id: str) -> str | None:
        """The secret of an active key (how the OSS port checks signatures), else None."""
        key = self.state.keys.get(access_key_id)
        if key and key.get("_expires") and key["_expires"] <= time.time():
            return None  # expired temporary credentials
        return key["secret"] if key and key.get("status") == "Active" else None

    def session_token(self, access_key_id: str) -> str | None:
        """The security token temporary credentials must carry (OSS checks it), else None."""
        key = self.state.keys.get(access_key_id)
        return key.get("securityToken") if key else None

    # -- the signed gate -----------------------------------------------------------------------
    async def _authenticate(self, request: web.Request) -> tuple[str, bytes]:
        self.faults.maybe_fail()
        body = await request.read()
        headers = {name.lower(): request.headers.getall(name) for name in set(request.headers.keys())}
        path = request.raw_path.split("?", 1)[0]
        caller = self.verifier.verify(request.method, path, dict(request.query), headers, body)
        stamp = now_iso()
        key = self.state.keys[caller]
        if key.get("lastUsed") != stamp:  # at most one write per key and second
            key["lastUsed"] = stamp
            self.state.save()
        return caller, body

    def roa(self, handler):
        async def endpoint(request: web.Request) -> web.Response:
            request_id = _request_id()
            try:
                _, raw = await self._authenticate(request)
            except ApiError as exc:
                return _gateway_error(exc, request_id)
            try:
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError:
                return _json({"code": "ERR_BAD_REQUEST", "message": "The request body is not a JSON object.",
                               "requestId": request_id}, 400, request_id)
            try:
                data = await handler(request, body)
            except ApiError as exc:
                return _json({"code": exc.code, "message": exc.message, "requestId": request_id},
                              exc.status, request_id)
            if request.method != "GET" and self.faults.lose() and request.transport is not None:
                request.transport.abort()  # done, but the caller never hears it: as a lost answer
            return _json({"code": "SUCCESS", "requestId": request_id, "data": data}, 200, request_id)
        return endpoint

    async def rpc(self, request: web.Request) -> web.Response:
        request_id = _request_id()
        anonymous = federation.ANONYMOUS.get((request.headers.get("x-acs-version", ""),
                                              request.headers.get("x-acs-action", "")))
        try:
            if anonymous is not None:  # AssumeRoleWithOIDC: unsigned, the token is the proof
                self.faults.maybe_fail()
                result = await anonymous(self.state, request.query)
                return _json({**result, "RequestId": request_id}, 200, request_id)
            caller, _ = await self._authenticate(request)
            result = rpc.dispatch(self.state, caller, request.headers.get("x-acs-action", ""),
                                  request.headers.get("x-acs-version", ""), request.query)
        except ApiError as exc:
            return _gateway_error(exc, request_id)
        return _json({**result, "RequestId": request_id}, 200, request_id)

    async def stop_idle_agents(self) -> None:
        """Every few seconds: stop the agents of versions no endpoint routes to, once idle."""
        while True:
            idle = self.faults.idle_stop
            await asyncio.sleep(max(0.2, min(idle / 2, 10.0)))
            try:
                await self.supervisor.stop_idle(self.state.routed_keys() | self.control.deploying(),
                                                self.faults.idle_stop)
            except Exception:  # a sweep failing must not end the sweeps
                log.exception("idle agent sweep failed")

    # -- admin ---------------------------------------------------------------------------------
    async def health(self, request: web.Request) -> web.Response:
        return _json({"status": "ok", "pid": os.getpid(), "port": self.port, "root": str(self.state.root),
                      "agents": self.supervisor.pids()}, 200)

    async def output(self, request: web.Request) -> web.Response:
        """``/_emulator/output?runtime=NAME[&version=N][&lines=50]``: what each version's agent
        process wrote, newest lines last (``invoke logs``); every version that ran when none is named."""
        runtime = self.state.runtime_by_name(request.query.get("runtime", ""))
        if runtime is None:
            return _json({"Code": "EntityNotExist.AgentRuntime", "Message": "no such runtime"}, 404)
        try:
            count = min(max(int(request.query.get("lines") or 50), 1), 10_000)
        except ValueError:
            return _json({"Code": "InvalidParameter", "Message": "lines must be an integer"}, 400)
        versions = [request.query["version"]] if request.query.get("version") else \
            ["LATEST", *(v["agentRuntimeVersion"] for v in self.state.versions.get(runtime["agentRuntimeId"], []))]
        found = []
        for version in versions:
            spec = self.state.spec_for(runtime, version)
            lines = self.supervisor.output(spec.key, count) if spec else None
            if lines is not None:
                found.append({"version": version, "lines": lines})
        return _json(found, 200)

    async def faults_get(self, request: web.Request) -> web.Response:
        return _json(self.faults.as_dict(), 200)

    async def faults_set(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            self.faults = self.faults.updated(body if isinstance(body, dict) else {"?": body})
        except ValueError as exc:
            return _json({"Code": "InvalidParameter", "Message": str(exc)}, 400)
        return _json(self.faults.as_dict(), 200)


def _admin_guard(emulator: Emulator):
    """Every ``/_emulator/`` path: loopback callers with the admin token only."""

    @web.middleware
    async def guard(request: web.Request, handler):
        if request.path.startswith("/_emulator/"):
            if request.remote not in _LOOPBACK:
                return _json({"Code": "Forbidden", "Message": "emulator admin routes answer loopback clients only"},
                             403)
            if not admin.allowed(request.headers.get(admin.HEADER), emulator.admin_token):
                return _json({"Code": "Unauthorized", "Message": f"emulator admin routes need the {admin.HEADER} "
                              f"header with the token in .agentrun/local/{admin.TOKEN_FILE}"}, 401)
        return await handler(request)

    return guard


def build_app(emulator: Emulator) -> web.Application:
    """The application: control plane, RAM/STS, the data plane's routes and the admin routes."""
    app = web.Application(middlewares=[_admin_guard(emulator)], client_max_size=256 * 1024 * 1024)
    for method, path, handler in emulator.control.routes():
        app.router.add_route(method, path, emulator.roa(handler))
    app.router.add_post("/", emulator.rpc)
    app.router.add_get("/_emulator/health", emulator.health)
    app.router.add_get("/_emulator/faults", emulator.faults_get)
    app.router.add_get("/_emulator/output", emulator.output)
    app.router.add_post("/_emulator/faults", emulator.faults_set)
    add_routes(app, emulator.state, emulator.supervisor, emulator.requestlog)

    async def resume(app: web.Application) -> None:
        emulator.control.resume()
        app[_SWEEPER] = asyncio.get_running_loop().create_task(emulator.stop_idle_agents())

    async def shutdown(app: web.Application) -> None:
        app[_SWEEPER].cancel()
        await emulator.supervisor.stop_all()
        emulator.requestlog.close()

    app.on_startup.append(resume)
    app.on_cleanup.append(shutdown)
    return app


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _json(doc: dict | list, status: int, request_id: str | None = None, headers: dict | None = None) -> web.Response:
    headers = dict(headers or {})
    if request_id:
        headers["x-acs-request-id"] = request_id
    return web.json_response(doc, status=status, headers=headers)


def _gateway_error(exc: ApiError, request_id: str) -> web.Response:
    headers = {"x-acs-retry-after": RETRY_AFTER} if exc.status == 429 else None
    return _json({"Code": exc.code, "Message": exc.message, "RequestId": request_id}, exc.status,
                 request_id, headers)
