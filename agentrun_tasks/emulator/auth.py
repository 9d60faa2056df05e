"""Checking a request's ACS3-HMAC-SHA256 signature as the cloud gateway does.

The canonical request is rebuilt exactly as ``alibabacloud_tea_openapi.utils.Utils
.get_authorization`` builds it::

    METHOD \\n PATH \\n sorted query (values RFC 3986-encoded) \\n
    lower-name:value lines of the SignedHeaders \\n SignedHeaders \\n x-acs-content-sha256

and signed as ``HMAC-SHA256(secret, "ACS3-HMAC-SHA256\\n" + hex(sha256(canonical request)))``.
The payload hash in ``x-acs-content-sha256`` must also match the body actually received.

Rejections use the gateway's codes and statuses: unknown or deleted key
``InvalidAccessKeyId.NotFound`` (404), disabled key ``InvalidAccessKeyId.Inactive`` (400), bad
signature ``SignatureDoesNotMatch`` (400), malformed or missing Authorization
``IncompleteSignature`` (400), stale ``x-acs-date`` ``InvalidTimeStamp.Expired`` (400), a reused
nonce ``SignatureNonceUsed`` (400).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"
MAX_SKEW_S = 15 * 60


class ApiError(Exception):
    """An error answer: HTTP status, the cloud's code and a message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _encode(value: str) -> str:
    return quote(value, safe="~", encoding="utf-8")


def canonical_request(method: str, path: str, query: Mapping[str, str], headers: Mapping[str, list[str]],
                      signed_headers: list[str], payload_hash: str) -> str:
    """The string whose SHA-256 is signed; ``headers`` maps lower-case names to all their values."""
    canon_query = "&".join(f"{_encode(k)}={_encode(query[k])}" for k in sorted(query))
    canon_headers = "".join(
        f"{name}:{','.join(sorted(v.strip() for v in headers.get(name, [])))}\n" for name in signed_headers)
    return f"{method}\n{path or '/'}\n{canon_query}\n{canon_headers}\n{';'.join(signed_headers)}\n{payload_hash}"


def sign(secret: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return hmac.new(secret.encode("utf-8"), f"{ALGORITHM}\n{digest}".encode(), hashlib.sha256).hexdigest()


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """``(access_key_id, signed_headers, signature)`` from an ``Authorization`` header."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise ApiError(400, "IncompleteSignature",
                       f"The request signature algorithm is not supported: {algorithm or 'none'}; use {ALGORITHM}.")
    parts = dict(item.strip().partition("=")[::2] for item in rest.split(","))
    try:
        return parts["Credential"], parts["SignedHeaders"].split(";"), parts["Signature"]
    except KeyError:
        raise ApiError(400, "IncompleteSignature",
                       "The Authorization header lacks Credential, SignedHeaders or Signature.") from None


class Verifier:
    """Verifies signed requests against the account's keys and remembers recent nonces."""

    def __init__(self, keys: Mapping[str, dict], clock=time.time):
        self.keys = keys
        self.clock = clock
        self._nonces: dict[str, float] = {}

    def verify(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, list[str]],
               body: bytes) -> str:
        """The AccessKey id that signed the request, or ApiError with the cloud's code."""
        auth = (headers.get("authorization") or [""])[0]
        if not auth:
            raise ApiError(400, "IncompleteSignature",
                           "The request is not signed: the Authorization header is missing.")
        key_id, signed_headers, signature = parse_authorization(auth)
        key = self.keys.get(key_id)
        if key is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if key["status"] != "Active":
            raise ApiError(400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
        payload_hash = (headers.get("x-acs-content-sha256") or [""])[0]
        if "host" not in signed_headers or "x-acs-content-sha256" not in signed_headers:
            raise ApiError(400, "IncompleteSignature", "SignedHeaders must include host and x-acs-content-sha256.")
        canonical = canonical_request(method, path, query, headers, signed_headers, payload_hash)
        if not hmac.compare_digest(sign(key["secret"], canonical), signature) \
                or not hmac.compare_digest(hashlib.sha256(body).hexdigest(), payload_hash):
            raise ApiError(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        self._check_fresh(headers)
        self._check_security_token(key, headers)
        return key_id

    def _check_security_token(self, key: Mapping, headers: Mapping[str, list[str]]) -> None:
        """Temporary (``STS.``) credentials: the signed ``x-acs-security-token`` must be theirs
        and unexpired; a user's key must not carry one."""
        given = (headers.get("x-acs-security-token") or [""])[0]
        expected = key.get("securityToken")
        if expected is None:
            if given:
                raise ApiError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                               "Specified SecurityToken mismatch with the AccessKey.")
            return
        if not given:
            raise ApiError(400, "MissingSecurityToken", "SecurityToken is mandatory for this action.")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                           "Specified SecurityToken mismatch with the AccessKey.")
        if key.get("_expires", 0) <= self.clock():
            raise ApiError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")

    def _check_fresh(self, headers: Mapping[str, list[str]]) -> None:
        now = self.clock()
        stamp = (headers.get("x-acs-date") or [""])[0]
        try:
            sent = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
        except ValueError:
            raise ApiError(400, "InvalidTimeStamp.Format", f"Specified time stamp is not valid: {stamp!r}.") from None
        if abs(now - sent) > MAX_SKEW_S:
            raise ApiError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date header is expired.")
        nonce = (headers.get("x-acs-signature-nonce") or [""])[0]
        self._nonces = {n: t for n, t in self._nonces.items() if now - t <= 2 * MAX_SKEW_S}
        if nonce:
            if nonce in self._nonces:
                raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces[nonce] = now
