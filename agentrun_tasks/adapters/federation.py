"""Role credentials from STS: the CI job's OIDC token exchanged with ``AssumeRoleWithOIDC``, or a
key's ``AssumeRole``, through the official STS client; refreshed before they expire.

:class:`RoleCredentials` stands where an AccessKey's ``Credentials`` stands (the same fields), but
reading a field past the refresh point assumes the role again with a fresh OIDC token, so a
canary that runs for hours keeps working. SDK clients opened once take it through
:meth:`RoleCredentials.sdk_credential` (tea-openapi asks it before every request) and OSS through
:meth:`RoleCredentials.oss_provider`. The token, secret and security token are :class:`Secret`
from the moment they are read: masked in CI logs, never in argv, files or child environments.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core.childenv import allowed
from ..core.errors import CredentialError
from ..core.federation import GITHUB_TOKEN, RolePlan, TokenSource
from ..core.retry import RetryPolicy
from ..core.secrets import Secret, redact
from .openapi_errors import translate

if TYPE_CHECKING:
    import alibabacloud_oss_v2 as oss

REFRESH_FRACTION = 0.25  # assume again when a quarter of the session is left (15 min of an hour)
_TRUST = "check the role's trust policy (`invoke doctor --env <env>` reads it)"
# STS's code -> (what it means, what to fix), for the one paragraph a refusal prints.
_REFUSALS = {
    "AuthenticationFail.NoPermission": ("the role's trust policy does not accept this token (its subject, issuer "
                                        "or audience), or the OIDC provider is not registered",
                                        f"{_TRUST} and the provider_arn"),
    "AuthenticationFail.OIDCToken.Expired": ("the OIDC token has expired",
                                             "give a fresh token (a token file must be rewritten before it expires)"),
    "AuthenticationFail.OIDCToken.InvalidSignature": ("the token is not signed by a key the provider publishes",
                                                      "use the token the CI platform issues for this job"),
    "AuthenticationFail.OIDCToken.AudienceNotMatch": ("the token's audience is not a client id of the provider",
                                                      "set credentials.oidc.audience to a client id of the "
                                                      "provider, or add the audience to it"),
    "AuthenticationFail.OIDCToken.IssuerNotMatch": ("the token's issuer is not the provider's issuer URL",
                                                    "point provider_arn at the provider of this CI platform"),
    "AuthenticationFail.OIDCToken.Invalid": ("the token is not a valid JWT (or not valid yet)",
                                             "check where the token comes from (token_file, token_env)"),
    "AuthenticationFail.OIDCToken.HttpsUrlInvalid": ("STS could not fetch the issuer's keys with the registered "
                                                     "certificate fingerprint",
                                                     "update the provider's fingerprint (IMS UpdateOIDCProvider)"),
    "EntityNotExist.Role": ("the role does not exist", "fix the role_arn"),
    "NoPermission": ("the role's trust policy does not let this key assume it (or the external id differs)",
                     "fix credentials.role_arn / external_id, or the role's trust policy"),
}


def read_token(source: TokenSource, audience: str, environ: Mapping[str, str], *, timeout: float = 10.0) -> Secret:
    """The OIDC token, fresh from its source (GitHub's live minutes: asked again at each refresh)."""
    where = source.describe()
    if source.kind == "file":
        try:
            value = Path(source.where).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CredentialError(f"The OIDC token file {source.where} cannot be read ({type(exc).__name__}). "
                                  "Next: point credentials.oidc.token_file or ALIBABA_CLOUD_OIDC_TOKEN_FILE at the "
                                  "file your platform writes.") from None
    elif source.kind == "env":
        value = (environ.get(source.where) or "").strip()
    elif source.kind == "github":
        value = _github_token(source.where, audience, environ.get(GITHUB_TOKEN, ""), timeout)
    else:
        value = _buildkite_token(audience, environ, timeout)
    if not value:
        raise CredentialError(f"The OIDC token from {where} is empty. Next: check the job's OIDC setting.")
    return Secret(value, source=where)


def _github_token(url: str, audience: str, request_token: str, timeout: float) -> str:
    """GitHub Actions' ID token: GET the request URL with ``&audience=`` and the bearer token."""
    joiner = "&" if "?" in url else "?"
    request = urllib.request.Request(f"{url}{joiner}audience={quote(audience, safe='')}",
                                     headers={"Authorization": f"Bearer {request_token}",
                                              "Accept": "application/json; api-version=2.0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=ssl.create_default_context()) as response:
            value = json.loads(response.read()).get("value")
    except urllib.error.HTTPError as exc:
        raise CredentialError(f"GitHub refused the OIDC token request (HTTP {exc.code}). Next: give the job "
                              "`permissions: id-token: write`.") from None
    except (OSError, ValueError, AttributeError) as exc:
        raise CredentialError(f"GitHub's OIDC token endpoint could not be read ({type(exc).__name__}: "
                              f"{redact(str(exc))}).") from None
    return value if isinstance(value, str) else ""


def _buildkite_token(audience: str, environ: Mapping[str, str], timeout: float) -> str:
    try:
        done = subprocess.run(["buildkite-agent", "oidc", "request-token", "--audience", audience],
                              capture_output=True, text=True, timeout=timeout, check=False,
                              env=allowed(environ, prefixes=("BUILDKITE_",)))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CredentialError(f"`buildkite-agent oidc request-token` could not run ({type(exc).__name__}).") from None
    if done.returncode != 0:
        raise CredentialError(f"`buildkite-agent oidc request-token` failed: {redact(done.stderr.strip())[:300]}")
    return done.stdout.strip()


class RoleCredentials:
    """Temporary credentials of ``plan``'s role, assumed on first use and again before expiry.

    ``assume`` is ``(plan, token) -> STS Credentials body``; ``clock`` is injectable so refresh
    is tested without waiting. Only reading ``access_key_id`` may refresh: callers that read the
    three fields one by one read the id first (s_cli, svars), so they never mix two sessions."""

    def __init__(self, plan: RolePlan, env_name: str, assume: Callable[[RolePlan, Secret | None], Any], *,
                 environ: Mapping[str, str], clock: Callable[[], float] = time.time) -> None:
        self.plan, self.env_name, self._assume, self._environ, self._clock = plan, env_name, assume, environ, clock
        self._lock = threading.Lock()
        self._current: tuple[Secret, Secret, Secret] | None = None
        self._refresh_at = 0.0
        self.expiration = ""
        self.assumed = 0  # how many times STS was asked (refreshes included)
        label = ("STS AssumeRoleWithOIDC" if plan.provider_arn else "STS AssumeRole") + f" {plan.role_arn}"
        self.sources = {"access_key_id": label, "access_key_secret": label, "security_token": label}
        self.account_id: str | None = plan.role_arn.split(":")[3] or None
        self.warnings: tuple[str, ...] = ()

    def _fields(self, *, refresh: bool = True) -> tuple[Secret, Secret, Secret]:
        with self._lock:
            if self._current is None or (refresh and self._clock() >= self._refresh_at):
                token = read_token(self.plan.token, self.plan.audience, self._environ) if self.plan.token else None
                body = self._assume(self.plan, token)
                self._current = (Secret(body.access_key_id, source=self.sources["access_key_id"]),
                                 Secret(body.access_key_secret, source=self.sources["access_key_secret"]),
                                 Secret(body.security_token, source=self.sources["security_token"]))
                now = self._clock()
                self._refresh_at = now + self.plan.duration_s * (1 - REFRESH_FRACTION)
                self.expiration = body.expiration
                self.assumed += 1
            return self._current

    def ensure(self) -> None:
        """Assume the role now, if not yet (a refusal then surfaces before any work starts)."""
        self._fields()

    @property
    def access_key_id(self) -> Secret:
        return self._fields()[0]

    @property
    def access_key_secret(self) -> Secret:
        return self._fields(refresh=False)[1]

    @property
    def security_token(self) -> Secret:
        return self._fields(refresh=False)[2]

    def masked(self) -> dict:
        """What ``credentials.show`` prints: the source is OIDC (or AssumeRole), the role, the expiry."""
        key_id = self.access_key_id
        return {"source": self.plan.kind, "role_arn": self.plan.role_arn, "provider_arn": self.plan.provider_arn,
                "session_name": self.plan.session_name, "expiration": self.expiration,
                "token_from": self.plan.token.describe() if self.plan.token else None, "origin": self.plan.origin,
                "access_key_id": key_id.masked, "access_key_secret": "****", "security_token": "set",
                "account_id": self.account_id, "sources": dict(self.sources), "warnings": []}

    def sdk_credential(self) -> object:
        """For tea-openapi ``Config(credential=...)``: asked before every request, so long-lived
        clients sign with the current session."""
        from alibabacloud_credentials.models import CredentialModel

        owner = self

        class _Current:
            def get_credential(self) -> CredentialModel:
                key_id, secret, token = owner._fields()
                return CredentialModel(access_key_id=key_id.reveal(), access_key_secret=secret.reveal(),
                                       security_token=token.reveal(), type="sts", provider_name="agentrun-tasks")

        return _Current()

    def oss_provider(self) -> oss.credentials.CredentialsProvider:
        """For alibabacloud-oss-v2's ``credentials_provider``: the current session per request."""
        import alibabacloud_oss_v2 as oss

        owner = self

        class _Current(oss.credentials.CredentialsProvider):
            def get_credentials(self) -> oss.credentials.Credentials:
                key_id, secret, token = owner._fields()
                return oss.credentials.Credentials(key_id.reveal(), secret.reveal(), token.reveal())

        return _Current()


def sts_assumer(env_name: str, *, endpoint: str, protocol: str, region: str, base_credentials: Callable[[], Any],
                policy: RetryPolicy) -> Callable[[RolePlan, Secret | None], Any]:
    """``(plan, token) -> Credentials body`` calling STS with the official client; a refusal is a
    :class:`CredentialError` (exit 3) naming what was refused and where to fix it."""

    def assume(plan: RolePlan, token: Secret | None) -> Any:
        from alibabacloud_sts20150401 import models as m
        from alibabacloud_sts20150401.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        if plan.provider_arn:
            client = Client(Config(endpoint=endpoint, protocol=protocol, region_id=region,
                                   connect_timeout=5000, read_timeout=30000))
            request = m.AssumeRoleWithOIDCRequest(role_arn=plan.role_arn, oidcprovider_arn=plan.provider_arn,
                                                  oidctoken=token.reveal() if token else "",
                                                  role_session_name=plan.session_name,
                                                  duration_seconds=plan.duration_s)
            call = lambda: client.assume_role_with_oidc(request)  # noqa: E731
        else:
            from .openapi_connection import Connection

            client = Client(Connection(endpoint, protocol, region, base_credentials()).sdk_config())
            call = lambda: client.assume_role(m.AssumeRoleRequest(  # noqa: E731
                role_arn=plan.role_arn, role_session_name=plan.session_name, duration_seconds=plan.duration_s,
                external_id=plan.external_id))

        def attempt() -> Any:
            try:
                return call().body.credentials
            except Exception as exc:  # SDK failures are classified, anything else re-raised
                raise _refused(exc, plan, env_name) from None

        return policy.call(attempt)

    return assume


def _refused(exc: BaseException, plan: RolePlan, env_name: str) -> BaseException:
    code = str(getattr(exc, "code", "") or "")
    if code in _REFUSALS:
        why, fix = _REFUSALS[code]
        what = "the OIDC token from " + plan.token.describe() if plan.token else "its AccessKey"
        return CredentialError(
            f"STS refused to let environment '{env_name}' assume {plan.role_arn} with {what} ({code}: {why}; "
            f"set by {plan.origin}). Nothing was changed. Next: {fix}.", hint=fix[0].upper() + fix[1:] + ".")
    translated = translate(exc, f"STS assume {plan.role_arn}")
    return translated if translated is not None else exc

