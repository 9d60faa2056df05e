"""A local OIDC issuer over HTTPS, for keyless-CI tests: discovery, JWKS and GitHub Actions'
token-request endpoint, with a self-signed certificate whose SHA-1 fingerprint is what IMS
``CreateOIDCProvider`` registers.

    with oidc_issuer(tmp_path) as issuer:
        issuer.url                 # https://127.0.0.1:<port>  (the tokens' iss)
        issuer.fingerprint         # 40 hex digits
        issuer.ca_file             # the certificate, for SSL_CERT_FILE of a client
        issuer.token(sub=..., aud=...)         # a signed JWT
        issuer.github_env(audience=...)        # ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN

The token endpoint answers ``GET /_apis/idtoken?api-version=2.0&audience=<aud>`` with
``Authorization: Bearer <request token>`` as GitHub's does: ``{"count": 1, "value": <JWT>}``,
whose ``sub`` is ``issuer.github_subject``; each answer is counted in ``issuer.issued``.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import secrets
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .loopback import serving

__all__ = ["GITHUB_TOKEN_PATH", "Issuer", "github_trust_policy", "oidc_issuer", "other_key", "register_federation"]

GITHUB_TOKEN_PATH = "/_apis/idtoken"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agentrun-tasks test issuer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


@dataclass
class Issuer:
    """A running issuer: its URL, pinned fingerprint, signing key and GitHub endpoint state."""

    url: str
    fingerprint: str
    ca_file: Path
    signing_key: rsa.RSAPrivateKey
    kid: str
    request_token: str
    clock: Callable[[], float] = time.time
    github_subject: str = "repo:acme/agent:environment:prod"
    lifetime_s: int = 300  # GitHub's tokens live minutes
    issued: list[dict] = field(default_factory=list)

    def token(self, *, sub: str, aud: str | list[str] = "sts.aliyuncs.com", issuer: str | None = None,
              lifetime_s: int | None = None, not_before_s: int = 0, key: rsa.RSAPrivateKey | None = None,
              **claims: Any) -> str:
        """A JWT signed with the issuer's key (or ``key``: "signed by another key")."""
        now = int(self.clock())
        payload = {"iss": issuer or self.url, "sub": sub, "aud": aud, "iat": now, "nbf": now + not_before_s,
                   "exp": now + (self.lifetime_s if lifetime_s is None else lifetime_s),
                   "jti": secrets.token_hex(8), **claims}
        return jwt.encode(payload, key or self.signing_key, algorithm="RS256", headers={"kid": self.kid})

    def github_env(self, audience: str | None = None) -> dict[str, str]:
        """What a job with ``permissions: id-token: write`` gets (the client appends the audience)."""
        del audience  # the client adds &audience=..., as actions/toolkit does
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}{GITHUB_TOKEN_PATH}?api-version=2.0",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token}

    def jwks(self) -> dict:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.signing_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def discovery(self) -> dict:
        return {"issuer": self.url, "jwks_uri": f"{self.url}/.well-known/jwks",
                "subject_types_supported": ["public"], "response_types_supported": ["id_token"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "repository", "ref"]}


def _handler(issuer_ref: list[Issuer]):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the stdlib's name
            issuer = issuer_ref[0]
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                return self._send(200, issuer.discovery())
            if parts.path == "/.well-known/jwks":
                return self._send(200, issuer.jwks())
            if parts.path == GITHUB_TOKEN_PATH:
                if self.headers.get("Authorization", "") != f"Bearer {issuer.request_token}":
                    return self._send(401, {"message": "Bad credentials"})
                audience = (parse_qs(parts.query).get("audience") or [""])[0]
                value = issuer.token(sub=issuer.github_subject, aud=audience or "https://github.com/acme",
                                     repository="acme/agent", ref="refs/heads/main", run_id="4242")
                issuer.issued.append({"audience": audience, "at": issuer.clock(), "token": value})
                return self._send(200, {"count": 1, "value": value})
            return self._send(404, {"message": "Not Found"})

        def _send(self, status: int, doc: dict) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def oidc_issuer(directory: Path) -> Iterator[Issuer]:
    """An HTTPS issuer on a free loopback port, its certificate written under ``directory``."""
    tls_key, signing_key = _rsa_key(), _rsa_key()
    cert = _certificate(tls_key)
    directory = Path(directory)
    ca_file, key_file = directory / "oidc-issuer.pem", directory / "oidc-issuer.key"
    ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(tls_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    key_file.chmod(0o600)
    ref: list[Issuer] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    ref.append(Issuer(url=f"https://127.0.0.1:{server.server_address[1]}",
                      fingerprint=hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
                      ca_file=ca_file, signing_key=signing_key, kid=secrets.token_hex(6),
                      request_token=secrets.token_urlsafe(24)))
    with serving(server, "oidc-issuer"):
        yield ref[0]


def other_key() -> rsa.RSAPrivateKey:
    """A key the issuer does not publish: a token signed with it must be refused."""
    return _rsa_key()


def github_trust_policy(provider_arn: str, issuer_url: str, *, sub: str | list[str] = "repo:acme/agent:*",
                        audience: str = "sts.aliyuncs.com") -> str:
    """The trust policy GitHub's Alibaba Cloud guide writes: the provider as the federated
    principal, the issuer and audience exact, the subject a StringLike pattern (or a list of them)."""
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Federated": [provider_arn]},
        "Condition": {"StringEquals": {"oidc:iss": issuer_url, "oidc:aud": audience},
                      "StringLike": {"oidc:sub": sub}}}]})


def register_federation(config, issuer: Issuer, *, role: str = "agentrun-deployer", provider: str = "github",
                        sub: str | list[str] = "repo:acme/agent:*",
                        audience: str = "sts.aliyuncs.com") -> tuple[str, str]:
    """Register ``issuer`` as an OIDC provider (IMS) and a role trusting it (RAM), through the
    official SDKs signed with ``config`` (a tea-openapi Config). ``(role_arn, provider_arn)``."""
    from alibabacloud_ims20190815 import models as ims_models
    from alibabacloud_ims20190815.client import Client as ImsClient
    from alibabacloud_ram20150501 import models as ram_models
    from alibabacloud_ram20150501.client import Client as RamClient

    created = ImsClient(config).create_oidcprovider(ims_models.CreateOIDCProviderRequest(
        oidcprovider_name=provider, issuer_url=issuer.url, fingerprints=issuer.fingerprint, client_ids=audience,
        description="agentrun-tasks tests")).body.oidcprovider
    ram = RamClient(config)
    made = ram.create_role(ram_models.CreateRoleRequest(
        role_name=role, assume_role_policy_document=github_trust_policy(created.arn, issuer.url, sub=sub,
                                                                        audience=audience))).body.role
    ram.attach_policy_to_role(ram_models.AttachPolicyToRoleRequest(
        policy_type="System", policy_name="AliyunAgentRunFullAccess", role_name=role))
    return made.arn, created.arn
