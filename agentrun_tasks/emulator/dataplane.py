"""The data plane: endpoint URLs that route by weight to the process of a published version.

``/agent-runtimes/{runtime}/endpoints/{endpoint}/invocations[/<tail>]`` is the cloud's URL
shape; ``<tail>`` (``openai/v1/chat/completions``, ...) and the query string go to the agent
unchanged, with every method. Responses stream back as they arrive, so server-sent events
reach the caller one by one, and carry ``x-agentrun-version`` naming the version that served
them. A runtime with ``credentialName`` answers 401 to a call without its credential in
``X-API-Key`` (or the credential's ``headerKey``), as AgentRun's data link does; the header is
not passed on to the agent. Every request lands in the request log, which ``GET /_emulator/requests`` serves to the
release gates (loopback callers only, unsigned; ``server.build_app``'s middleware checks that).
"""

from __future__ import annotations

import hmac
import random
import time
import uuid
from datetime import datetime
from typing import Protocol

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from .requestlog import OUTCOMES, RequestLog
from .spec import ProcessSpec
from .supervisor import StartFailed, Supervisor

INVOCATIONS = "/agent-runtimes/{runtime}/endpoints/{endpoint}/invocations"
VERSION_HEADER = "x-agentrun-version"
# RFC 9110 §7.6.1: meaningful for one connection only. Host and Content-Length are set anew.
_HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Host", "Content-Length"))
WHOLE_BODY_MAX = 1 << 20  # larger sized bodies, and unsized ones (SSE), are streamed


class RouteTable(Protocol):
    """What the data plane needs from the control plane's state."""

    def routes_for(self, runtime: str, endpoint: str) -> list[tuple[ProcessSpec, float]] | None:
        """The versions behind an endpoint with their weights; None if there is no such endpoint."""

    def credential_for(self, runtime: str) -> tuple[str, str] | None:
        """``(header, secret)`` a call to the runtime must carry, or None."""


def add_routes(app: web.Application, state: RouteTable, supervisor: Supervisor,
               requestlog: RequestLog) -> None:
    """Serve the endpoint URLs and ``/_emulator/requests`` from ``app``."""
    proxy = _Proxy(state, supervisor, requestlog)
    app.router.add_route("*", INVOCATIONS, proxy.invoke)
    app.router.add_route("*", INVOCATIONS + "/{tail:.*}", proxy.invoke)
    app.router.add_get("/_emulator/requests", proxy.requests)
    app.on_startup.append(proxy.open)
    app.on_cleanup.append(proxy.close)


class _Proxy:
    def __init__(self, state: RouteTable, supervisor: Supervisor, requestlog: RequestLog):
        self.state = state
        self.supervisor = supervisor
        self.requestlog = requestlog
        self.session: aiohttp.ClientSession | None = None

    async def open(self, app: web.Application) -> None:
        # One session for every request: its pool keeps connections to the agents alive.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,  # pass the agent's bytes through, compressed or not
            skip_auto_headers=("Accept-Encoding", "User-Agent"),  # only what the caller sent
            cookie_jar=aiohttp.DummyCookieJar())

    async def close(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()
        self.requestlog.flush()

    async def invoke(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        runtime, endpoint = request.match_info["runtime"], request.match_info["endpoint"]
        credential = self.state.credential_for(runtime)
        if credential is not None and not _holds(request, *credential):
            return _error(401, "Unauthorized", f"agent runtime {runtime!r} requires its credential in the "
                                               f"{credential[0]} header")
        routes = self.state.routes_for(runtime, endpoint)
        if routes is None:
            return _error(404, "EndpointNotFound",
                          f"agent runtime {runtime!r} has no endpoint {endpoint!r} (or no code yet); "
                          f"check both names in the URL against the runtime's endpoints")
        if not routes:
            return _error(503, "NoVersionToRoute",
                          f"endpoint {endpoint!r} of {runtime!r} routes to no published version; "
                          f"publish one and point the endpoint at it")
        spec = _pick(routes)
        try:
            base = await self.supervisor.ensure(spec)
            response, status = await self._forward(request, spec, base)
        except StartFailed as e:
            response = _error(503, "AgentStartFailed",
                              f"version {spec.version} of {runtime!r} did not start: {e}")
        except (aiohttp.ClientError, OSError) as e:
            response = _error(502, "AgentUnreachable",
                              f"version {spec.version} of {runtime!r} did not answer: "
                              f"{type(e).__name__}: {e}")
        if not response.prepared:
            response.headers[VERSION_HEADER] = spec.version
            status = response.status
        self.requestlog.record(runtime, endpoint, spec.version, status,
                               (time.perf_counter() - started) * 1000)
        return response

    async def _forward(self, request: web.Request, spec: ProcessSpec,
                       base: str) -> tuple[web.StreamResponse, int]:
        """Send the request to the agent and stream its answer back, chunk by chunk.

        Returns the response and the status to log: 502 when the agent broke off mid-stream.
        """
        # /agent-runtimes/{rt}/endpoints/{ep}/invocations/<tail>: keep <tail> exactly as sent.
        parts = request.rel_url.raw_path.split("/", 6)
        target = base + "/" + (parts[6] if len(parts) > 6 else "")
        if request.rel_url.raw_query_string:
            target += "?" + request.rel_url.raw_query_string
        credential = self.state.credential_for(spec.runtime_name)
        hidden = _HOP_BY_HOP | ({credential[0].lower()} if credential else set())
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hidden}
        body = await request.read()
        assert self.session is not None, "opened by the app's on_startup, before any request"
        async with self.session.request(request.method, URL(target, encoded=True),
                                        headers=headers, data=body or None,
                                        allow_redirects=False) as upstream:
            answer_headers = CIMultiDict((k, v) for k, v in upstream.headers.items()
                                         if k.lower() not in _HOP_BY_HOP)
            answer_headers[VERSION_HEADER] = spec.version
            length = upstream.content_length
            if length is not None and length <= WHOLE_BODY_MAX:
                # A sized answer goes out whole: headers and body in one send, not two.
                body = await upstream.read()
                return web.Response(status=upstream.status, reason=upstream.reason, body=body,
                                    headers=answer_headers), upstream.status
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason,
                                          headers=answer_headers)
            if length is not None:
                response.content_length = length
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except ConnectionResetError:
                pass  # the caller hung up mid-stream; the request is logged with its status
            except aiohttp.ClientError:
                # Too late for an error status: cut the connection so the caller sees it broken.
                if request.transport is not None:
                    request.transport.close()
                return response, 502
        return response, upstream.status

    async def requests(self, request: web.Request) -> web.Response:
        """The request log as a JSON list, filtered by the query string.

        Loopback callers only: the server's middleware guards every ``/_emulator/`` path.
        """
        q = request.query
        try:
            records = self.requestlog.query(
                runtime=q.get("runtime"), endpoint=q.get("endpoint"), version=q.get("version"),
                since=_time(q.get("since")), until=_time(q.get("until")),
                outcome=q.get("outcome") or None,
                limit=int(q["limit"]) if q.get("limit") else None)
        except ValueError as e:
            return _error(400, "InvalidParameter",
                          f"bad query {request.query_string!r}: {e}; expected since/until as epoch "
                          f"seconds or ISO 8601, outcome in {OUTCOMES}, limit an integer")
        return web.json_response(records)


def _holds(request: web.Request, header: str, secret: str) -> bool:
    given = request.headers.get(header, "")
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


def _pick(routes: list[tuple[ProcessSpec, float]]) -> ProcessSpec:
    """A version drawn at random in proportion to its weight."""
    if len(routes) == 1:
        return routes[0][0]
    weights = [max(weight, 0.0) for _, weight in routes]
    if sum(weights) <= 0:
        return routes[0][0]
    return random.choices([spec for spec, _ in routes], weights)[0]


def _time(value: str | None) -> float | None:
    """Epoch seconds from ``1700000000.5`` or ``2026-01-01T00:00:00+00:00``."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _error(status: int, code: str, message: str) -> web.Response:
    """An error in the cloud's JSON shape: code, message, requestId."""
    return web.json_response({"code": code, "message": message, "requestId": str(uuid.uuid4())},
                             status=status)
