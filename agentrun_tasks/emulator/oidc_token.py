"""Checking an OIDC token as STS ``AssumeRoleWithOIDC`` does: the issuer's keys fetched over HTTPS
with the certificate pinned by the provider's registered fingerprints, then signature, ``iss``,
``aud``, ``exp``/``nbf`` and the provider's issuance limit.

Trust in the issuer comes from the fingerprint the account registered (IMS
``CreateOIDCProvider`` ``Fingerprints``: SHA-1 of the certificate, hex), not from a CA bundle:
a local issuer's self-signed certificate is pinned the way the cloud pins a real issuer's CA.
Errors are the ones STS documents (api-sts-2015-04-01-errorcodes), all HTTP 401.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt

from .auth import ApiError

FETCH_TIMEOUT_S = 5.0
_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")


def _fail(code: str, message: str) -> ApiError:
    return ApiError(401, f"AuthenticationFail.{code}", message)


def normalise_fingerprint(value: str) -> str:
    """``AB:CD:...`` or ``abcd...`` -> ``abcd...`` (40 hex digits of a SHA-1)."""
    return value.replace(":", "").strip().lower()


def fetch_json(url: str, fingerprints: list[str], timeout: float = FETCH_TIMEOUT_S) -> Any:
    """GET ``url`` over HTTPS; the server's certificate must match one registered fingerprint."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise _fail("OIDCToken.HttpsUrlInvalid", f"The OIDC provider URL must be an https URL: {url}")
    context = ssl.create_default_context()
    # The pin below is the check: the registered fingerprint, not a CA bundle, decides trust.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, context=context, timeout=timeout)
    try:
        conn.connect()
        der = conn.sock.getpeercert(binary_form=True) if isinstance(conn.sock, ssl.SSLSocket) else None
        if der is None or hashlib.sha1(der).hexdigest() not in {normalise_fingerprint(f) for f in fingerprints}:
            raise _fail("OIDCToken.HttpsUrlInvalid",
                        f"The root ca certificate is not in ca whitelist of this url: {url}")
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                     headers={"accept": "application/json"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise _fail("OIDCToken.HttpsUrlInvalid", f"Invoke url failed: {url} answered HTTP {response.status}.")
        return json.loads(body)
    except (OSError, ValueError) as exc:
        raise _fail("OIDCToken.HttpsUrlInvalid", f"Invoke url failed: {url} ({type(exc).__name__}).") from None
    finally:
        conn.close()


def issuer_keys(issuer_url: str, fingerprints: list[str], fetch: Callable[[str, list[str]], Any] = fetch_json) -> dict:
    """The issuer's JWKS, found through its discovery document (``jwks_uri``)."""
    discovery = fetch(issuer_url.rstrip("/") + "/.well-known/openid-configuration", fingerprints)
    jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
    if not isinstance(jwks_uri, str):
        raise _fail("OIDCToken.HttpsUrlInvalid", f"The discovery document of {issuer_url} names no jwks_uri.")
    keys = fetch(jwks_uri, fingerprints)
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise _fail("OIDCToken.HttpsUrlInvalid", f"{jwks_uri} is not a JWKS document.")
    return keys


def unverified_header(token: str) -> dict:
    """The JOSE header, or the documented ``OIDCToken.Invalid`` for anything that is not a JWT."""
    if not token:
        raise _fail("OIDCToken.Invalid", "The OIDCToken can not empty.")
    if token.count(".") != 2:
        raise _fail("OIDCToken.Invalid", "The number of Jwt field should be divided into 3 parts with '.' .")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _fail("OIDCToken.Invalid", "Cannot decode base64 encoded response(format invalided).") from None
    if header.get("alg") not in _ALGORITHMS:
        raise _fail("OIDCToken.Invalid",
                    f"The algorithm {header.get('alg')} that be specified in Jwt header is unknown.")
    return header


def verify(token: str, provider: Mapping[str, Any], jwks: Mapping[str, Any], now: float | None = None) -> dict:
    """The token's claims once every check the cloud makes has passed, else ApiError."""
    now = time.time() if now is None else now
    header = unverified_header(token)
    candidates = [k for k in jwks.get("keys", []) if not header.get("kid") or k.get("kid") == header.get("kid")]
    claims = None
    for candidate in candidates:
        try:
            key = jwt.PyJWK.from_dict(candidate).key
            claims = jwt.decode(token, key=key, algorithms=[header["alg"]],
                                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                         "verify_aud": False, "verify_iss": False})
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            raise _fail("OIDCToken.Invalid", "The Jwt content is invalid that cannot be recognized.") from None
    if claims is None:
        raise _fail("OIDCToken.InvalidSignature", "OIDC token validate failed: invalid signature.")
    if claims.get("iss") != provider["IssuerUrl"]:
        raise _fail("OIDCToken.IssuerNotMatch", "The issuer of the token does not match the OIDC provider's IssuerUrl.")
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if not set(audiences) & set(provider["ClientIds"].split(",")):
        raise _fail("OIDCToken.AudienceNotMatch", "Invalid audience.")
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    if not isinstance(exp, (int, float)) or exp <= now:
        raise _fail("OIDCToken.Expired", "This JsonWebToken is expired.")
    if isinstance(nbf, (int, float)) and nbf > now:
        raise _fail("OIDCToken.Invalid", "The Jwt is not valid yet (nbf is in the future).")
    limit_s = float(provider.get("IssuanceLimitTime") or 12) * 3600
    if isinstance(iat, (int, float)) and now - iat > limit_s:
        raise _fail("OIDCToken.Expired", "This JsonWebToken is expired: it was issued before the provider's "
                                         "IssuanceLimitTime.")
    return claims
