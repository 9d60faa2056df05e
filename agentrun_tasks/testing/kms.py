"""A local KMS 2016-01-20 for the rotation's KMS sink: ``DescribeSecret``, ``PutSecretValue`` and
``GetSecretValue`` over RPC (``POST /``, action in ``x-acs-action``, parameters in the query and
the form body), with the ACS3-HMAC-SHA256 signature the official SDK sends checked
against the caller's secret, as KMS does. As KMS, a repeated ``PutSecretValue`` of the same version
and value is accepted and ignored; the same version with another value is ``Rejected.ResourceExist``.

    with KmsFake(secret_of=emulator_secrets(root), secrets=("agentrun/prod",)).serving() as kms:
        ...  # kms.endpoint for the sink's ``endpoint:``, kms.versions["agentrun/prod"]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp import web

from ..emulator.auth import ApiError, canonical_request, parse_authorization, sign
from ..emulator.state import state_dir
from .aio import serving

__all__ = ["KmsFake", "emulator_secrets"]


def emulator_secrets(root: Path) -> Callable[[str], str | None]:
    """The secret of an *active* key of the emulator on ``root`` (read live: keys rotate)."""
    def lookup(key_id: str) -> str | None:
        keys = json.loads((state_dir(root) / "state.json").read_text()).get("keys", {})
        key = keys.get(key_id)
        return key["secret"] if key and key["status"] == "Active" else None
    return lookup


class KmsFake:
    """Generic secrets with versions; ``versions[name]`` lists ``(version_id, data, stages)``."""

    def __init__(self, secret_of: Callable[[str], str | None], secrets: tuple[str, ...] = ("agentrun/key",)) -> None:
        self.secret_of = secret_of
        self.versions: dict[str, list[tuple[str, str]]] = {name: [] for name in secrets}
        self.endpoint = ""

    def current(self, name: str) -> dict | None:
        """The ACSCurrent version's data, parsed."""
        return json.loads(self.versions[name][-1][1]) if self.versions.get(name) else None

    @contextmanager
    def serving(self) -> Iterator[KmsFake]:
        app = web.Application()
        app.router.add_post("/", self.rpc)
        with serving(app) as url:
            self.endpoint = url.removeprefix("http://")
            yield self

    def _verify(self, request: web.Request, body: bytes) -> str | None:
        """The error code for a bad signature, or None."""
        try:
            key_id, signed, signature = parse_authorization(request.headers.get("Authorization", ""))
        except ApiError as exc:
            return exc.code
        secret = self.secret_of(key_id)
        if secret is None:
            return "InvalidAccessKeyId.NotFound"
        payload = request.headers.get("x-acs-content-sha256", "")
        headers = {name.lower(): request.headers.getall(name) for name in set(request.headers.keys())}
        canonical = canonical_request(request.method, request.path, dict(request.query), headers, signed, payload)
        if hashlib.sha256(body).hexdigest() != payload or not hmac.compare_digest(sign(secret, canonical), signature):
            return "SignatureDoesNotMatch"
        return None

    async def rpc(self, request: web.Request) -> web.Response:
        body = await request.read()
        request_id = str(uuid.uuid4())
        problem = self._verify(request, body)
        if problem:
            status = 404 if problem.endswith("NotFound") else 400
            return web.json_response({"Code": problem, "Message": problem, "RequestId": request_id}, status=status)
        params = {**dict(request.query), **dict(parse_qsl(body.decode()))}
        name = params.get("SecretName", "")
        if name not in self.versions:
            return web.json_response({"Code": "Forbidden.ResourceNotFound", "Message": "The resource not exists.",
                                      "RequestId": request_id}, status=404)
        action = request.headers.get("x-acs-action")
        if action == "DescribeSecret":
            return web.json_response({"SecretName": name, "SecretType": "Generic", "RequestId": request_id})
        if action == "PutSecretValue":
            same = [data for v, data in self.versions[name] if v == params.get("VersionId")]
            if same and same[0] != params.get("SecretData"):
                return web.json_response({"Code": "Rejected.ResourceExist", "Message": "The version exists.",
                                          "RequestId": request_id}, status=400)
            if not same:  # as KMS: the same version with the same value again is accepted and ignored
                self.versions[name].append((params["VersionId"], params["SecretData"]))
            return web.json_response({"SecretName": name, "VersionId": params["VersionId"],
                                      "VersionStages": {"VersionStage": ["ACSCurrent"]}, "RequestId": request_id})
        if action == "GetSecretValue":
            version, data = self.versions[name][-1] if self.versions[name] else ("", "")
            return web.json_response({"SecretName": name, "SecretData": data, "SecretDataType": "text",
                                      "VersionId": version, "VersionStages": {"VersionStage": ["ACSCurrent"]},
                                      "RequestId": request_id})
        return web.json_response({"Code": "InvalidAction.NotFound", "Message": action, "RequestId": request_id},
                                 status=404)
