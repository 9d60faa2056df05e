"""A local OSS: the path-style subset the official SDKs need for code uploads and the release
state store (buckets, objects, conditional create, listing), on its own loopback port.

Requests are authenticated as OSS does (V4 and V1 signatures, :mod:`.oss_auth`) against the
secret ``lookup_secret(access_key_id)`` returns (None for an unknown or inactive key). Errors are
the XML bodies OSS sends. Objects are single files under ``data_dir/<bucket>/`` written by
write-then-rename, so they survive a restart and a reader never sees half an object;
``x-oss-forbid-overwrite: true`` creates with ``os.link``, which is atomic.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

from aiohttp import web

from ..core.build import crc64
from .oss_auth import OssError, verify_signature

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
# Typed by annotation: AppKey's second argument takes a class, not Callable[...] (nor Store, defined below).
_KEYS: web.AppKey[Callable[[str], str | None]] = web.AppKey("oss_keys")
_STORE: web.AppKey[Store] = web.AppKey("oss_store")
_TOKENS: web.AppKey[Callable[[str], str | None] | None] = web.AppKey("oss_tokens")


def make_oss_app(data_dir: Path, lookup_secret: Callable[[str], str | None],
                 lookup_token: Callable[[str], str | None] | None = None) -> web.Application:
    """The OSS application over ``data_dir``; ``lookup_secret(ak_id)`` authenticates callers,
    ``lookup_token(ak_id)`` gives the security token temporary credentials must carry."""
    app = web.Application(middlewares=[_errors, _authenticate], client_max_size=1024**3)
    app[_STORE] = Store(Path(data_dir))
    app[_KEYS] = lookup_secret
    app[_TOKENS] = lookup_token
    app.router.add_route("*", "/{bucket}", _bucket)
    app.router.add_route("*", "/{bucket}/", _bucket)
    app.router.add_route("*", "/{bucket}/{key:.+}", _object)
    return app


def read_object(data_dir: Path, bucket: str, key: str) -> bytes | None:
    """An object's bytes straight from ``data_dir`` (for the control plane's ``ossObjectName`` code)."""
    found = Store(Path(data_dir)).read(bucket, key)
    return found[1] if found else None


class Store:
    """Objects as files: one JSON header line (key, etag, crc64, type, mtime) then the body."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def bucket(self, name: str, *, create: bool = False) -> Path:
        path = self.root / name
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not path.is_dir():
            raise OssError(404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=name)
        return path

    def _path(self, bucket: str, key: str) -> Path:
        # Hashed names: any key (slashes, unicode, 1023 bytes) maps to one flat, safe file name.
        return self.bucket(bucket) / hashlib.sha256(key.encode()).hexdigest()

    def write(self, bucket: str, key: str, body: bytes, content_type: str, *, exclusive: bool) -> dict:
        meta = {
            "key": key,
            "etag": f'"{hashlib.md5(body).hexdigest().upper()}"',
            "crc64": str(crc64(body)),
            "type": content_type,
            "mtime": datetime.now(timezone.utc).timestamp(),
            "size": len(body),
        }
        final = self._path(bucket, key)
        tmp = final.with_name(f".tmp-{uuid.uuid4().hex}")
        with open(tmp, "wb") as fh:
            fh.write(json.dumps(meta).encode() + b"\n" + body)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            if not exclusive:
                os.replace(tmp, final)
                return meta
            try:
                os.link(tmp, final)  # fails if the key exists: the atomic "create only"
            except FileExistsError:
                raise OssError(409, "FileAlreadyExists",
                               "The object you specified already exists and can not be overwritten.") from None
        finally:
            tmp.unlink(missing_ok=True)
        return meta

    def read(self, bucket: str, key: str, *, head: bool = False) -> tuple[dict, bytes] | None:
        try:
            with open(self._path(bucket, key), "rb") as fh:
                meta = json.loads(fh.readline())
                return meta, b"" if head else fh.read()
        except (FileNotFoundError, OssError):
            return None

    def delete(self, bucket: str, key: str) -> None:
        self._path(bucket, key).unlink(missing_ok=True)

    def keys(self, bucket: str) -> list[dict]:
        metas = []
        for path in self.bucket(bucket).iterdir():
            if not path.name.startswith("."):
                with open(path, "rb") as fh:
                    metas.append(json.loads(fh.readline()))
        return sorted(metas, key=lambda m: m["key"])


# --- handlers ---------------------------------------------------------------------------------

async def _bucket(request: web.Request) -> web.Response:
    store: Store = request.app[_STORE]
    name = request.match_info["bucket"]
    if request.method == "PUT":
        if not _BUCKET_RE.match(name):
            raise OssError(400, "InvalidBucketName", "The specified bucket is not valid.", BucketName=name)
        if (store.root / name).is_dir():
            raise OssError(409, "BucketAlreadyExists", "The requested bucket name is not available.",
                           BucketName=name)
        store.bucket(name, create=True)
        return _ok(request, headers={"Location": f"/{name}"})
    if request.method == "GET" and request.query.get("list-type") == "2":
        return _ok(request, _list_v2(store, name, request.query), content_type="application/xml")
    raise OssError(405, "MethodNotAllowed", f"{request.method} on a bucket is not supported by this emulator.")


async def _object(request: web.Request) -> web.Response:
    store: Store = request.app[_STORE]
    bucket, key = request.match_info["bucket"], request.match_info["key"]
    if request.method == "PUT":
        body = await request.read()
        _check_md5(request, body)
        forbid = request.headers.get("x-oss-forbid-overwrite", "").lower() == "true"
        meta = store.write(bucket, key, body, request.headers.get("Content-Type", "application/octet-stream"),
                           exclusive=forbid)
        return _ok(request, headers={"ETag": meta["etag"], "x-oss-hash-crc64ecma": meta["crc64"]})
    if request.method == "DELETE":
        store.bucket(bucket)  # NoSuchBucket, but deleting a missing key is a success as on OSS
        store.delete(bucket, key)
        return _ok(request, status=204)
    if request.method in ("GET", "HEAD"):
        found = store.read(bucket, key, head=request.method == "HEAD")
        if found is None:
            store.bucket(bucket)
            raise OssError(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        meta, body = found
        mtime = datetime.fromtimestamp(meta["mtime"], timezone.utc)
        headers = {"ETag": meta["etag"], "x-oss-hash-crc64ecma": meta["crc64"], "x-oss-object-type": "Normal",
                   "Last-Modified": format_datetime(mtime, usegmt=True), "Content-Length": str(meta["size"])}
        return _ok(request, body, headers=headers, content_type=meta["type"])
    raise OssError(405, "MethodNotAllowed", f"{request.method} on an object is not supported by this emulator.")


def _list_v2(store: Store, bucket: str, query) -> str:
    if query.get("delimiter"):
        raise OssError(501, "NotImplemented", "ListObjectsV2 with a delimiter is not supported by this emulator.")
    prefix = query.get("prefix", "")
    try:
        max_keys = int(query.get("max-keys", "100"))
        after = _untoken(query["continuation-token"]) if "continuation-token" in query else query.get("start-after", "")
    except (ValueError, binascii.Error):
        raise OssError(400, "InvalidArgument", "max-keys or continuation-token is not valid.") from None
    if not 0 < max_keys <= 1000:
        raise OssError(400, "InvalidArgument", "max-keys must be between 1 and 1000.")
    matching = [m for m in store.keys(bucket) if m["key"].startswith(prefix) and m["key"] > after]
    page, truncated = matching[:max_keys], len(matching) > max_keys
    url = query.get("encoding-type") == "url"
    enc = (lambda s: quote(s, safe="/")) if url else escape
    parts = [_el("Name", bucket), _el("Prefix", enc(prefix)), _el("MaxKeys", max_keys),
             _el("IsTruncated", str(truncated).lower()), _el("KeyCount", len(page))]
    if "continuation-token" in query:
        parts.append(_el("ContinuationToken", escape(query["continuation-token"])))
    if truncated:
        parts.append(_el("NextContinuationToken", _token(page[-1]["key"])))
    if url:
        parts.append(_el("EncodingType", "url"))
    for m in page:
        modified = datetime.fromtimestamp(m["mtime"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        parts.append("<Contents>" + _el("Key", enc(m["key"])) + _el("LastModified", modified)
                     + _el("ETag", escape(m["etag"])) + _el("Type", "Normal") + _el("Size", m["size"])
                     + _el("StorageClass", "Standard") + "</Contents>")
    return '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>' + "".join(parts) + "</ListBucketResult>"


def _el(tag: str, value) -> str:
    return f"<{tag}>{value}</{tag}>"


def _token(key: str) -> str:
    # URL-safe so that it survives the SDK's unquote of encoding-type=url fields untouched.
    return base64.urlsafe_b64encode(key.encode()).decode()


def _untoken(token: str) -> str:
    return base64.urlsafe_b64decode(token.encode()).decode()


def _check_md5(request: web.Request, body: bytes) -> None:
    sent = request.headers.get("Content-MD5")
    if sent and sent != base64.b64encode(hashlib.md5(body).digest()).decode():
        raise OssError(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")


def _ok(request, body: str | bytes = b"", *, status: int = 200, headers=None, content_type=None) -> web.Response:
    resp = web.Response(status=status, body=body.encode() if isinstance(body, str) else body, headers=headers)
    if content_type:
        resp.content_type = content_type
    resp.headers["Server"] = "AliyunOSS"
    return resp


# --- middlewares: error bodies and authentication ---------------------------------------------

@web.middleware
async def _errors(request: web.Request, handler):
    request_id = uuid.uuid4().hex[:24].upper()
    try:
        resp = await handler(request)
    except OssError as exc:
        fields = {"Code": exc.code, "Message": exc.message, "RequestId": request_id, "HostId": request.host,
                  **exc.fields}
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
               + "".join(f"  <{k}>{escape(str(v))}</{k}>\n" for k, v in fields.items()) + "</Error>\n")
        resp = _ok(request, xml, status=exc.status, content_type="application/xml")
        # A HEAD response has no body: OSS puts the same XML, base64, in x-oss-err.
        resp.headers["x-oss-err"] = base64.b64encode(xml.encode()).decode()
    resp.headers["x-oss-request-id"] = request_id
    return resp


@web.middleware
async def _authenticate(request: web.Request, handler):
    verify_signature(request, request.app[_KEYS], request.app[_TOKENS])
    return await handler(request)
