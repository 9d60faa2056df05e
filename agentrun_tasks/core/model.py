"""Typed, validated view of one environment (``envs/<name>.yaml``).

:mod:`agentrun_tasks.core.config` builds these from YAML (or from an imported ``s.yaml``);
everything downstream reads only these frozen values. ``agent`` keeps the Serverless Devs
``props.agent`` field names (camelCase) as a plain mapping, so it round-trips to the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .retry import RetryPolicy


@dataclass(frozen=True)
class AnalysisConfig:
    """Gate thresholds for one canary step. ``None`` switches a metric off."""

    min_requests: int = 20
    inconclusive: str = "extend"  # extend | fail: what too few requests means
    max_error_rate: float | None = 0.05  # absolute, 0..1
    max_error_rate_increase: float | None = 0.02  # candidate minus stable, 0..1
    max_p50_ms: float | None = None
    max_p90_ms: float | None = None
    max_p99_ms: float | None = 2000.0
    max_latency_increase_ms: float | None = 200.0  # p50 candidate minus stable
    confidence: float = 0.95  # of the candidate-vs-stable statistical tests
    probe_rate: float = 5.0  # synthetic requests per second per side
    metrics: tuple[Any, ...] = ()  # core.metrics.Metric: custom metrics read from the logstore


@dataclass(frozen=True)
class ReleaseConfig:
    strategy: str = "canary"  # canary | blue-green | direct
    endpoint: str = "prod"  # the endpoint users call
    steps: tuple[float, ...] = (0.05, 0.25, 0.5, 1.0)
    interval: float = 60.0  # seconds of analysis per step
    max_extensions: int = 3  # inconclusive steps extended at most this many times
    lock_ttl: float = 180.0  # short: the live holder refreshes it, a dead one's expires soon
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    checks: tuple[Any, ...] = ()  # core.checks.Check: acceptance checks on the candidate alone
    webhooks: tuple[Any, ...] = ()  # core.webhooks.Webhook: confirm gates and pre-/post-rollout notices
    # On the cloud, also judge the release endpoint's real requests, read from the runtime's SLS
    # logstore (adapters/sls_traffic.py). Off until an account confirms FC's row fields.
    real_traffic: bool = False
    # Where locks and history live so every CI runner sees them: an OSS bucket. None keeps
    # them under .agentrun/state/ on this machine (the emulator's environment uses its OSS).
    state_bucket: str | None = None
    state_prefix: str = "agentrun-tasks/"
    state_endpoint: str | None = None


@dataclass(frozen=True)
class HealthConfig:
    """The post-deploy check: a real chat-completion request against the endpoint."""

    path: str = "/openai/v1/chat/completions"
    model: str = "agent"
    prompt: str = "ping"
    timeout: float = 120.0  # total seconds until healthy
    interval: float = 1.0
    expect_status: int = 200


@dataclass(frozen=True)
class CredentialsConfig:
    profile: str = "default"  # keyring entry and env-var suffix (ALIYUN_ACCESS_KEY_ID_<PROFILE>)
    account_id: str | None = None
    ram_user: str | None = None  # the RAM user whose keys rotate-keys rotates
    ram_endpoint: str | None = None  # RAM host[:port] where it differs from the control plane's default
    sts_endpoint: str | None = None  # STS host[:port] likewise (a private endpoint)
    allow_dotenv: bool = True  # production sets this false
    sinks: tuple[Mapping[str, Any], ...] = ()
    role_arn: str | None = None  # AssumeRole with the key found (core/federation.py)
    external_id: str | None = None
    oidc: Mapping[str, Any] | None = None  # AssumeRoleWithOIDC: {role_arn, provider_arn, audience, ...}


@dataclass(frozen=True)
class ProtectConfig:
    branches: tuple[str, ...] = ()  # fnmatch patterns; empty = any branch
    confirm: bool = False  # ask on a terminal unless --yes


@dataclass(frozen=True)
class NotifyConfig:
    channels: tuple[Any, ...] = ()  # core.notify.ChannelConfig, validated by core.notify
    timeout: float = 10.0  # seconds notifications may add to a task, all channels together


@dataclass(frozen=True)
class EnvConfig:
    """One deployment target."""

    name: str
    path: Path  # the env file it came from
    region: str
    driver: str  # openapi | serverless-devs
    agent: Mapping[str, Any]  # Serverless Devs props.agent fields
    control_endpoint: str | None = None  # host[:port]; None = agentrun.<region>.aliyuncs.com
    sls_endpoint: str | None = None  # host[:port]; None = <region>.log.aliyuncs.com
    protocol: str = "https"
    emulator: bool = False  # True: the embedded local AgentRun (envs/local.yaml)
    inline_zip_limit: int = 20 * 1024 * 1024  # bytes; above it code goes through OSS
    deploy_timeout: float = 900.0
    code_outside_project: bool = False  # may agent.code.src leave the project (or be all of it)?
    retry: Mapping[str, Any] = field(default_factory=dict)  # RetryPolicy fields
    credentials: CredentialsConfig = field(default_factory=CredentialsConfig)
    protect: ProtectConfig = field(default_factory=ProtectConfig)
    release: ReleaseConfig = field(default_factory=ReleaseConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    s_yaml: Path | None = None  # the s.yaml the agent was imported from, if any
    s_yaml_resource: str | None = None  # its resource name (the key under resources:)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The one retry policy of every call this environment makes (control plane, OSS)."""
        return RetryPolicy(**dict(self.retry))

    @property
    def agent_name(self) -> str:
        return self.agent["name"]

    @property
    def project_root(self) -> Path:
        """The directory holding ``envs/``: relative paths in the env file resolve from here."""
        return self.path.parent.parent

    @property
    def code_dir(self) -> Path:
        return (self.project_root / self.agent.get("code", {}).get("src", "code")).resolve()
