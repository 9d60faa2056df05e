"""Request signatures of the emulator's OSS, checked as OSS checks them.

:func:`verify_signature` accepts V4 ``OSS4-HMAC-SHA256`` (alibabacloud-oss-v2) and V1
``OSS ak:signature`` (oss2) against the secret ``lookup_secret(access_key_id)`` returns (None for
an unknown or inactive key), and raises :class:`OssError` as OSS would: AccessDenied,
InvalidAccessKeyId, RequestTimeTooSkewed (V4's x-oss-date and V1's Date alike: 15 minutes) or
SignatureDoesNotMatch (with the StringToSign).
:class:`OssError` lives here, the lower of the two modules, so that :mod:`.oss` can import it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from aiohttp import web

MAX_SKEW = timedelta(minutes=15)  # what OSS allows between x-oss-date and its clock
_V4_AUTH_RE = re.compile(
    r"^OSS4-HMAC-SHA256 Credential=(?P<ak>[^/,]+)/(?P<date>\d{8})/(?P<region>[^/,]*)/(?P<product>[^/,]*)"
    r"/aliyun_v4_request(?:,AdditionalHeaders=(?P<extra>[^,]*))?,Signature=(?P<sig>[0-9a-f]{64})$"
)
# The only V1 sub-resource among the operations served here (oss2 signs it, not list-type).
_V1_SUBRESOURCES = frozenset({"continuation-token"})


class OssError(Exception):
    """An OSS error response: HTTP status, Code and Message, plus optional extra XML fields."""

    def __init__(self, status: int, code: str, message: str, **fields: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields


def verify_signature(request: web.Request, lookup_secret: Callable[[str], str | None],
                     lookup_token: Callable[[str], str | None] | None = None) -> None:
    """Return if ``request`` carries a valid V4 or V1 signature; raise :class:`OssError` otherwise.

    ``lookup_token(ak)`` gives the security token of temporary (``STS.``) credentials, None for
    a user's key: such a key must come with its own ``x-oss-security-token``."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("OSS4-HMAC-SHA256 "):
        ak = _verify_v4(request, auth, lookup_secret)
    elif auth.startswith("OSS "):
        ak = _verify_v1(request, auth, lookup_secret)
    else:
        raise OssError(403, "AccessDenied", "Anonymous access is forbidden: sign the request with an AccessKey.")
    expected = lookup_token(ak) if lookup_token else None
    given = request.headers.get("x-oss-security-token", "")
    if expected is not None and not hmac.compare_digest(given.encode(), expected.encode()):
        raise OssError(403, "InvalidSecurityToken", "The security token you provided is invalid.")


def _secret_for(lookup_secret: Callable[[str], str | None], ak: str) -> str:
    secret = lookup_secret(ak)
    if secret is None:
        raise OssError(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.",
                       OSSAccessKeyId=ak)
    return secret


def _resource(request: web.Request) -> str:
    """``/bucket/key`` (``/bucket/`` for bucket operations), decoded, as both signers start from."""
    bucket, key = request.match_info.get("bucket", ""), request.match_info.get("key", "")
    return f"/{bucket}/{key}" if bucket else "/"


def _verify_v4(request: web.Request, auth: str, lookup_secret: Callable[[str], str | None]) -> str:
    m = _V4_AUTH_RE.match(auth)
    if not m:
        raise OssError(400, "InvalidArgument", "The Authorization header is not a valid OSS4-HMAC-SHA256 header.")
    secret = _secret_for(lookup_secret, m["ak"])
    stamp = request.headers.get("x-oss-date", "")
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise OssError(403, "AccessDenied", "x-oss-date is missing or malformed.") from None
    if abs(datetime.now(timezone.utc) - when) > MAX_SKEW:
        raise OssError(403, "RequestTimeTooSkewed",
                       "The difference between the request time and the current time is too large.")
    extra = [h for h in (m["extra"] or "").split(";") if h]
    headers = sorted((k.lower(), v) for k, v in request.headers.items()
                     if k.lower().startswith("x-oss-") or k.lower() in ("content-type", "content-md5")
                     or k.lower() in extra)
    raw_query = request.raw_path.partition("?")[2]
    pairs = sorted(p.partition("=")[::2] for p in raw_query.split("&") if p)
    canonical = "\n".join([
        request.method, quote(_resource(request), safe="/"), "&".join(f"{k}={v}" if v else k for k, v in pairs),
        "".join(f"{k}:{v}\n" for k, v in headers), ";".join(extra),
        request.headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
    ])
    scope = f"{m['date']}/{m['region']}/{m['product']}/aliyun_v4_request"
    to_sign = f"OSS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("aliyun_v4" + secret).encode()
    for part in (m["date"], m["region"], m["product"], "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, m["sig"]):
        raise OssError(403, "SignatureDoesNotMatch",
                       "The request signature we calculated does not match the signature you provided.",
                       OSSAccessKeyId=m["ak"], StringToSign=to_sign)
    return m["ak"]


def _check_v1_date(stamp: str) -> None:
    """A V1 request's ``Date`` (or ``x-oss-date``) must be within ``MAX_SKEW`` of now, as OSS
    requires, so a captured request cannot be replayed later."""
    try:
        when = parsedate_to_datetime(stamp)
    except (TypeError, ValueError):
        raise OssError(403, "AccessDenied", "The Date header is missing or malformed.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if abs(datetime.now(timezone.utc) - when) > MAX_SKEW:
        raise OssError(403, "RequestTimeTooSkewed",
                       "The difference between the request time and the current time is too large.",
                       RequestTime=stamp, ServerTime=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def _verify_v1(request: web.Request, auth: str, lookup_secret: Callable[[str], str | None]) -> str:
    ak, _, sig = auth[len("OSS "):].rpartition(":")
    secret = _secret_for(lookup_secret, ak)
    date = request.headers.get("x-oss-date") or request.headers.get("Date") or ""
    _check_v1_date(date)
    oss_headers = sorted((k.lower(), v.strip()) for k, v in request.headers.items() if k.lower().startswith("x-oss-"))
    sub = sorted((k, v) for k, v in request.query.items() if k in _V1_SUBRESOURCES)
    resource = _resource(request) + ("?" + "&".join(f"{k}={v}" if v else k for k, v in sub) if sub else "")
    to_sign = "\n".join([
        request.method, request.headers.get("Content-MD5", ""), request.headers.get("Content-Type", ""),
        date,
        "".join(f"{k}:{v}\n" for k, v in oss_headers) + resource,
    ])
    expected = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, sig):
        raise OssError(403, "SignatureDoesNotMatch",
                       "The request signature we calculated does not match the signature you provided.",
                       OSSAccessKeyId=ak, StringToSign=to_sign)
    return ak
