"""One CI platform's REST API over httpx: base URL, auth headers, a time bound, the retry policy,
and answers mapped onto the exit-code classes (401/403 -> credentials, 404 -> configuration,
429/5xx/connection failures -> transient, retried). Error text names the platform and status,
never a header or a body field that could hold a secret (it is redacted besides)."""

from __future__ import annotations

import functools
import os
import ssl
import weakref
from typing import Any

import httpx

from ...core import secrets
from ...core.errors import ConfigError, CredentialError, ResourceFailedError, TransientError
from ...core.retry import RetryPolicy


class Api:
    """Requests to one platform, e.g. ``Api("https://api.github.com", {...}, what="GitHub")``."""

    def __init__(self, base_url: str, headers: dict[str, str], *, what: str, policy: RetryPolicy = RetryPolicy(
            attempts=4, total=30.0), timeout: float = 15.0, auth: Any = None) -> None:
        self.what = what
        self.policy = policy
        self.client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, auth=auth,
                                   verify=_tls(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")))
        # A sink lives as long as its rotation and nothing closes it: its connections close when it
        # goes, not whenever the garbage collector finds the sockets (with a ResourceWarning each).
        weakref.finalize(self, self.client.close)

    def call(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> httpx.Response | None:
        """The response of ``method path``; None for a 404 when ``missing_ok``; else an error."""
        def attempt() -> httpx.Response | None:
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise TransientError(f"{self.what}: could not reach {self.client.base_url} "
                                     f"({type(exc).__name__}).") from None
            if response.status_code == 404 and missing_ok:
                return None
            if response.is_success:
                return response
            raise self.error(method, path, response)
        return self.policy.call(attempt)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON answer of a call that must succeed."""
        response = self.call(method, path, **kwargs)
        assert response is not None  # only missing_ok calls return None
        return response.json()

    def error(self, method: str, path: str, response: httpx.Response) -> Exception:
        status = response.status_code
        said = secrets.redact(_detail(response))
        where = f"{self.what} answered {status} to {method} {path}"
        if status in (401, 403):
            return CredentialError(f"{where}: the token was refused ({said}). Check that it is valid and may manage "
                                   "this target's secrets or variables; nothing was changed by this call.")
        if status == 404:
            return ConfigError(f"{where}: not found ({said}). Check the sink's settings in the env file (and that "
                               "the token can see the target).")
        if status == 429 or status >= 500:
            return TransientError(f"{where} ({said}).")
        return ResourceFailedError(f"{where} ({said}).")


@functools.lru_cache(maxsize=4)
def _tls(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """The TLS settings httpx would make for a client (the CAs of SSL_CERT_FILE or SSL_CERT_DIR, else
    certifi's), made once per process and per those variables: loading the CA bundle costs ~20 ms of
    CPU, and a rotation opens a client per sink."""
    return httpx.create_ssl_context()


def _detail(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return (response.text or response.reason_phrase or "")[:200].strip()
    if isinstance(doc, dict):
        for key in ("message", "error", "errors", "Message"):
            if key in doc:
                return str(doc[key])[:200]
    return str(doc)[:200]
