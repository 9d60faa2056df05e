"""A local Simple Log Service, reached the way a client behind an HTTP proxy reaches SLS.

It serves what agentrun-tasks calls: ``GetLogsV2`` (``invoke logs``) and what ``logConfig: auto``
makes (``CreateProject``, ``CreateLogStore``, ``CreateIndex``; "already exists" answered as SLS
does, and a logstore without an index refused for searching).

The SLS SDK names the project in the host (``<project>.<region>.log.aliyuncs.com``), which cannot
point at 127.0.0.1; so this server is the ``HTTP_PROXY`` of the process under test and receives
each request as SLS would, Host header included. The Alibaba Cloud SDKs send every plain-HTTP call
through that proxy (darabonba ignores ``NO_PROXY``), so it forwards requests for other loopback
hosts (the emulator's control plane) unchanged, and refuses any other host. It is
as strict as SLS where a client could go wrong: the ``LOG <key id>:<signature>`` authorization
recomputed over the canonical request, ``Content-MD5`` against the body, a ``Date`` within 15
minutes, the project and logstore, the 100-row page limit, the answer compressed as
``Accept-Encoding`` asks with ``x-log-compresstype`` and ``x-log-bodyrawsize``::

    with local_sls({"LTAIFAKE...": "secret"}) as sls:
        sls.put("proj", "store", [{"__topic__": "FCLogs:agentrun-x", "__time__": "1700000000", "message": "hi"}])
        ...  # run the client with sls.proxy_env(): HTTP_PROXY=sls.url

``fail_next(n, code, status)`` answers the next ``n`` requests with that SLS error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from aiohttp import ClientSession, web

from .aio import serving

__all__ = ["LocalSls", "local_sls"]

_TOPIC = re.compile(r'^__topic__: "([^"]*)"$')
MAX_LINE = 100
_LOGSTORE_PATH = re.compile(r"/logstores/([^/]+)/(logs|index)")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "content-length"}


@dataclass
class LocalSls:
    keys: dict[str, str]  # AccessKey id -> secret
    region: str = "cn-hangzhou"
    url: str = ""
    projects: set[str] = field(default_factory=set)
    stores: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    indexed: set[tuple[str, str]] = field(default_factory=set)
    calls: list[dict] = field(default_factory=list)  # {action, project, logstore, body, headers} of accepted calls
    settle: float = 0.0  # seconds a created project or logstore answers "does not exist" to other calls
    _failures: list = field(default_factory=list)
    _made: dict = field(default_factory=dict)  # project or (project, logstore) -> when it was created

    def put(self, project: str, logstore: str, rows: list[dict]) -> None:
        """Store rows (every value a string, as SLS keeps them) in an indexed logstore, made if new."""
        self.projects.add(project)
        self.indexed.add((project, logstore))
        self.stores.setdefault((project, logstore), []).extend(
            {k: str(v) for k, v in row.items()} for row in rows)

    def fail_next(self, n: int, code: str = "ServerBusy", status: int = 503) -> None:
        self._failures += [(status, code)] * n

    def proxy_env(self) -> dict[str, str]:
        return {"HTTP_PROXY": self.url, "http_proxy": self.url}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"errorCode": code, "errorMessage": message}, status=status,
                             headers={"x-log-requestid": "LOCAL-SLS"})


def _string_to_sign(request: web.Request) -> str:
    headers = {k.lower(): v for k, v in request.headers.items()}
    logged = "".join(f"{k}:{headers[k]}\n" for k in sorted(headers) if k.startswith(("x-log-", "x-acs-")))
    resource = request.path + ("?" + "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
                               if request.query else "")
    return (f"{request.method}\n{headers.get('content-md5', '')}\n{headers.get('content-type', '')}\n"
            f"{headers.get('date', '')}\n{logged}{resource}")


def _refusal(sls: LocalSls, request: web.Request, raw: bytes) -> web.Response | None:
    found = re.fullmatch(r"LOG ([^:]+):(.+)", request.headers.get("Authorization", ""))
    if not found:
        return _error(401, "Unauthorized", "the request is not signed.")
    secret = sls.keys.get(found.group(1))
    if secret is None:
        return _error(401, "Unauthorized", "AccessKeyId not found.")
    expected = base64.b64encode(hmac.new(secret.encode(), _string_to_sign(request).encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.decode(), found.group(2)):
        return _error(401, "SignatureNotMatch", "signature is not matched.")
    if raw and request.headers.get("Content-MD5", "") != hashlib.md5(raw).hexdigest().upper():
        return _error(400, "InvalidContentMD5", "Content-MD5 does not match the body.")
    try:
        skew = abs(time.time() - parsedate_to_datetime(request.headers.get("Date", "")).timestamp())
    except (TypeError, ValueError):
        skew = float("inf")
    if skew > 900:
        return _error(400, "RequestTimeTooSkewed", "Date is missing or more than 15 minutes away.")
    return None


def _compressed(request: web.Request, payload: bytes) -> web.Response:
    from alibabacloud_gateway_sls_util.client import Client as Codec

    headers = {"x-log-requestid": "LOCAL-SLS", "x-log-bodyrawsize": str(len(payload)),
               "Content-Type": "application/json"}
    encoding = request.headers.get("Accept-Encoding", "")
    if encoding in ("zstd", "lz4", "gzip", "deflate"):
        headers["x-log-compresstype"] = encoding
        payload = Codec.compress(payload, encoding)
    return web.Response(body=payload, headers=headers)


def _app(sls: LocalSls) -> web.Application:
    endpoint = f"{sls.region}.log.aliyuncs.com"

    def get_logs_v2(project: str, logstore: str, body: dict) -> web.Response | bytes:
        if (project, logstore) not in sls.indexed:
            return _error(400, "IndexConfigNotExist", f"logstore {logstore} has no index.")
        line, offset = int(body.get("line", 100)), int(body.get("offset", 0))
        query = str(body.get("query", "")).strip()
        if re.search(r"\|\s*select\b", query, re.IGNORECASE):
            return analytics(project, logstore, body, query)
        wanted = _TOPIC.match(query)
        if line > MAX_LINE or line < 0 or offset < 0 or "from" not in body or "to" not in body:
            return _error(400, "ParameterInvalid", "line is 0..100; from and to are required.")
        if query not in ("", "*") and not wanted:
            return _error(400, "ParameterInvalid", f"this local SLS answers only __topic__ queries, not {query!r}.")
        rows = [r for r in sls.stores[(project, logstore)]
                if body["from"] <= int(r.get("__time__", 0)) < body["to"]
                and (not wanted or r.get("__topic__") == wanted.group(1))]
        rows.sort(key=lambda r: int(r.get("__time__", 0)), reverse=bool(body.get("reverse")))
        page = rows[offset: offset + line]
        meta = {"progress": "Complete", "count": len(page), "hasSQL": False,
                "keys": sorted({k for r in page for k in r})}
        return json.dumps({"meta": meta, "data": page}).encode()

    def analytics(project: str, logstore: str, body: dict, query: str) -> web.Response | bytes:
        """An analytic query, in the subset the embedded AgentRun answers for custom metrics (SLS
        itself runs full SQL): one row, its values as strings, as SLS returns them."""
        from ..core.errors import ConfigError
        from ..core.metric_query import parse

        try:
            value, samples = parse(query).answer([r for r in sls.stores[(project, logstore)]
                                                  if body["from"] <= int(r.get("__time__", 0)) < body["to"]])
        except ConfigError as exc:
            return _error(400, "ParameterInvalid", str(exc))
        row = {"value": "null" if value is None else repr(value), "samples": str(samples)}
        return json.dumps({"meta": {"progress": "Complete", "count": 1, "hasSQL": True, "keys": sorted(row)},
                           "data": [row]}).encode()

    def create_log_store(project: str, body: dict) -> web.Response | None:
        name = str(body.get("logstoreName") or "")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]", name) or not 1 <= int(body.get("ttl") or 0) <= 3650:
            return _error(400, "ParameterInvalid", "logstoreName is 3-63 of a-z 0-9 _ -, and ttl 1..3650 days.")
        if (project, name) in sls.stores:
            return _error(400, "LogStoreAlreadyExist", f"logstore {name} already exists.")
        sls.stores[(project, name)] = []
        sls._made[(project, name)] = time.monotonic()
        return None

    def create_index(project: str, logstore: str, body: dict) -> web.Response | None:
        if (project, logstore) in sls.indexed:
            return _error(400, "IndexAlreadyExist", f"log store index {logstore} already exists.")
        if not body.get("line") and not body.get("keys"):
            return _error(400, "ParameterInvalid", "an index needs line (full text) or keys.")
        sls.indexed.add((project, logstore))
        return None

    def create_project(body: dict) -> web.Response | None:
        name = str(body.get("projectName") or "")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name):
            return _error(400, "ParameterInvalid", "projectName is 3-63 of a-z 0-9 and -.")
        if name in sls.projects:
            return _error(400, "ProjectAlreadyExist", f"Project {name} already exist.")
        sls.projects.add(name)
        sls._made[name] = time.monotonic()
        return None

    def dispatch(request: web.Request, project: str, body: dict) -> tuple[str, str, object]:
        """(action, logstore, what it answered: an error response, bytes, or None for an empty 200)."""
        path = request.path
        if project == "":
            return "CreateProject", "", create_project(body) if path == "/" else _unsupported(request)
        if project not in sls.projects or not _settled(sls, project):
            return "", "", _error(404, "ProjectNotExist", f"Project {project} does not exist.")
        if path == "/logstores":
            return "CreateLogStore", str(body.get("logstoreName") or ""), create_log_store(project, body)
        found = _LOGSTORE_PATH.fullmatch(path)
        if not found:
            return "", "", _unsupported(request)
        logstore, action = found.group(1), found.group(2)
        if (project, logstore) not in sls.stores or not _settled(sls, (project, logstore)):
            return action, logstore, _error(404, "LogStoreNotExist", f"logstore {logstore} does not exist.")
        if action == "index":
            return "CreateIndex", logstore, create_index(project, logstore, body)
        return "GetLogsV2", logstore, get_logs_v2(project, logstore, body)

    async def route(request: web.Request) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if host != endpoint and not host.endswith("." + endpoint):
            return await _forward(request)
        raw = await request.read()
        refused = _refusal(sls, request, raw)
        if refused is not None:
            return refused
        if request.method != "POST":
            return _unsupported(request)
        if sls._failures:
            status, code = sls._failures.pop(0)
            return _error(status, code, "failing as the test asked.")
        project = host[: -len(endpoint) - 1] if host != endpoint else ""
        body = json.loads(raw or b"{}")
        action, logstore, answer = dispatch(request, project, body)
        if isinstance(answer, web.Response):
            return answer
        sls.calls.append({"action": action, "project": project or body.get("projectName"), "logstore": logstore,
                          "body": body, "headers": dict(request.headers)})
        if isinstance(answer, bytes):
            return _compressed(request, answer)
        return web.Response(headers={"x-log-requestid": "LOCAL-SLS"})

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", route)
    return app


def _settled(sls: LocalSls, made: object) -> bool:
    return time.monotonic() - sls._made.get(made, float("-inf")) >= sls.settle


def _unsupported(request: web.Request) -> web.Response:
    return _error(404, "NotSupported", f"this local SLS serves CreateProject, CreateLogStore, CreateIndex and "
                  f"GetLogsV2 only, not {request.method} {request.path}.")


async def _forward(request: web.Request) -> web.Response:
    """Pass a proxied request for a loopback host on as it came; anything else is refused."""
    host = request.headers.get("Host", "")
    if host.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost"):
        return web.Response(status=502, text=f"this test proxy reaches only loopback hosts, not {host}.")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
    async with ClientSession(auto_decompress=False) as session, session.request(
            request.method, f"http://{host}{request.path_qs}", headers=headers, data=await request.read(),
            allow_redirects=False) as answer:
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        return web.Response(status=answer.status, body=await answer.read(), headers=kept)


@contextmanager
def local_sls(keys: dict[str, str], *, region: str = "cn-hangzhou", settle: float = 0.0) -> Iterator[LocalSls]:
    sls = LocalSls(dict(keys), region=region, settle=settle)
    with serving(_app(sls)) as url:
        sls.url = url
        yield sls
