"""Role credentials instead of an AccessKey: which role an environment assumes, how, and where
the CI job's OIDC token comes from. Pure: it reads the env file's settings and the environment
mapping it is given; fetching the token and calling STS are the adapters' (adapters/federation).

Two forms, both chosen per environment:

- ``credentials.oidc: {role_arn, provider_arn, audience, duration, session_name, token_file,
  token_env}``, or the standard ``ALIBABA_CLOUD_ROLE_ARN``, ``ALIBABA_CLOUD_OIDC_PROVIDER_ARN`` and
  ``ALIBABA_CLOUD_OIDC_TOKEN_FILE`` (all three, as ACK's RRSA sets them): STS
  ``AssumeRoleWithOIDC`` with the job's token; no AccessKey anywhere.
- ``credentials: {role_arn, external_id}``: STS ``AssumeRole`` signed by the key the usual chain
  finds (a tools account deploying into another account).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .cienv import CIContext
from .errors import CredentialError
from .model import EnvConfig

DEFAULT_AUDIENCE = "sts.aliyuncs.com"  # aliyun/configure-aliyun-credentials-action's default
DEFAULT_DURATION_S = 3600
MIN_DURATION_S, MAX_DURATION_S = 900, 43200  # STS DurationSeconds
ENV_ROLE, ENV_PROVIDER, ENV_TOKEN_FILE = ("ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                                          "ALIBABA_CLOUD_OIDC_TOKEN_FILE")
GITHUB_URL, GITHUB_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
GITLAB_DEFAULT_VAR = "ALIBABA_CLOUD_OIDC_TOKEN"  # the id_tokens: variable generated pipelines name
# Platforms that put the job's token in a variable of their own naming.
PLATFORM_VARS = {"circleci": ("CIRCLE_OIDC_TOKEN_V2", "CIRCLE_OIDC_TOKEN"),
                 "bitbucket": ("BITBUCKET_STEP_OIDC_TOKEN",), "gitlab": (GITLAB_DEFAULT_VAR,)}
ROLE_ARN = r"acs:ram::\d+:role/[\w.-]{1,64}"
PROVIDER_ARN = r"acs:ram::\d+:oidc-provider/[\w.-]{1,128}"


@dataclass(frozen=True)
class TokenSource:
    """Where the OIDC token is read, fresh at each (re)assumption.

    ``kind``: ``file`` (``where`` is the path), ``env`` (a variable), ``github`` (the request
    URL; the request token stays in the environment), ``buildkite`` (``buildkite-agent oidc
    request-token``)."""

    kind: str
    where: str

    def describe(self) -> str:
        return {"file": f"token file {self.where}", "env": f"${self.where}", "github": "GitHub Actions' "
                "ID-token endpoint", "buildkite": "buildkite-agent oidc request-token"}[self.kind]


@dataclass(frozen=True)
class RolePlan:
    """What to assume. ``provider_arn`` set = AssumeRoleWithOIDC with ``token``; else AssumeRole
    signed by the environment's key, with ``external_id``. ``origin`` says where it was set."""

    role_arn: str
    session_name: str
    duration_s: int
    origin: str
    provider_arn: str | None = None
    audience: str = DEFAULT_AUDIENCE
    token: TokenSource | None = None
    external_id: str | None = None

    @property
    def kind(self) -> str:
        return "oidc" if self.provider_arn else "assume-role"


def session_name(ci: CIContext, environ: Mapping[str, str], configured: str | None = None) -> str:
    """The RoleSessionName: configured, else ``<platform>-<run id>`` (``local`` outside CI), so
    ActionTrail shows which CI run acted. STS allows 2-64 of ``[A-Za-z0-9_.@-]``."""
    if configured:
        return configured
    run = ci.build_id or environ.get("GITHUB_RUN_ID") or ci.sha or "run"
    name = re.sub(r"[^A-Za-z0-9_.@-]", "-", f"agentrun-{ci.platform}-{run}")
    return name[:64]


def token_source(ci: CIContext, environ: Mapping[str, str], *, token_file: str | None = None,
                 token_env: str | None = None) -> TokenSource | None:
    """Where this run's OIDC token comes from, or None when nothing offers one.

    Explicit settings first (a file, a named variable), then the standard token file variable,
    then what the CI platform provides."""
    if token_file:
        return TokenSource("file", token_file)
    if token_env:
        return TokenSource("env", token_env)
    if environ.get(ENV_TOKEN_FILE):
        return TokenSource("file", environ[ENV_TOKEN_FILE])
    if environ.get(GITHUB_URL) and environ.get(GITHUB_TOKEN):
        return TokenSource("github", environ[GITHUB_URL])
    for name in PLATFORM_VARS.get(ci.platform, ()):
        if environ.get(name):
            return TokenSource("env", name)
    if ci.platform == "buildkite" and environ.get("BUILDKITE_AGENT_ACCESS_TOKEN"):
        return TokenSource("buildkite", "buildkite-agent")
    return None


def _no_token(env: EnvConfig, ci: CIContext, origin: str) -> CredentialError:
    fix = {
        "github": "give the job `permissions: id-token: write` (GitHub then sets ACTIONS_ID_TOKEN_REQUEST_URL).",
        "gitlab": f"add `id_tokens: {{{GITLAB_DEFAULT_VAR}: {{aud: {DEFAULT_AUDIENCE}}}}}` to the job, or name "
                  "your variable in credentials.oidc.token_env.",
        "bitbucket": "set `oidc: true` on the step (Bitbucket then sets BITBUCKET_STEP_OIDC_TOKEN).",
        "circleci": "run the job with a context (CircleCI then sets CIRCLE_OIDC_TOKEN_V2).",
    }.get(ci.platform, f"set credentials.oidc.token_file or {ENV_TOKEN_FILE} to a file holding the token "
                       "(outside CI, or on Jenkins without an OIDC plugin and Yunxiao, use an AccessKey).")
    return CredentialError(
        f"Environment '{env.name}' assumes a role with OIDC ({origin}) but this run has no OIDC token "
        f"({'no CI platform' if not ci.is_ci else ci.platform} offers none). Next: {fix}",
        hint=fix[0].upper() + fix[1:])


def plan(env: EnvConfig, ci: CIContext, environ: Mapping[str, str]) -> RolePlan | None:
    """The role ``env`` assumes and how, or None when it uses its AccessKey directly.

    The emulator environment never federates from the shell's variables (as it never takes the
    generic key names), only from its env file."""
    creds, where = env.credentials, env.path.name
    oidc = dict(creds.oidc or {})
    if oidc:
        origin = f"credentials.oidc in {where}"
        source = token_source(ci, environ, token_file=oidc.get("token_file"), token_env=oidc.get("token_env"))
        if source is None:
            raise _no_token(env, ci, origin)
        return RolePlan(role_arn=oidc["role_arn"], provider_arn=oidc["provider_arn"],
                        audience=oidc.get("audience") or DEFAULT_AUDIENCE,
                        duration_s=int(oidc.get("duration") or DEFAULT_DURATION_S),
                        session_name=session_name(ci, environ, oidc.get("session_name")), origin=origin,
                        token=source)
    standard = [environ.get(n) for n in (ENV_ROLE, ENV_PROVIDER, ENV_TOKEN_FILE)]
    if not env.emulator and all(standard):
        return RolePlan(role_arn=str(standard[0]), provider_arn=str(standard[1]), duration_s=DEFAULT_DURATION_S,
                        session_name=session_name(ci, environ, environ.get("ALIBABA_CLOUD_ROLE_SESSION_NAME")),
                        origin=f"{ENV_ROLE}, {ENV_PROVIDER} and {ENV_TOKEN_FILE}",
                        token=TokenSource("file", str(standard[2])))
    if creds.role_arn:
        return RolePlan(role_arn=creds.role_arn, external_id=creds.external_id, duration_s=DEFAULT_DURATION_S,
                        session_name=session_name(ci, environ), origin=f"credentials.role_arn in {where}")
    return None
