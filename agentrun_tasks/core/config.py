"""Environment files: ``envs/<name>.yaml``, one per deployment target.

Layout (every key is optional unless marked; defaults in brackets)::

    region: cn-hangzhou          # required unless s_yaml gives props.region (this one wins over it)
    driver: openapi              # [openapi] | serverless-devs
    emulator: false              # [false]; true only in local.yaml: the embedded local AgentRun
    control_endpoint: null       # host[:port] instead of agentrun.<region>.aliyuncs.com
    sls_endpoint: null           # host[:port] instead of <region>.log.aliyuncs.com (invoke logs on the cloud)
    protocol: https              # [https, or http when emulator is true]
    inline_zip_limit: 20MB       # [20MB] above it code goes through OSS; 512KB, 20MB, 1GB or bytes
    deploy_timeout: 15m          # [15m] durations: 30s, 5m, 1h, 1h30m or a number of seconds
    code_outside_project: false  # [false] true lets agent.code.src be the whole project or leave it
    retry: {attempts: 6, initial: 0.5, maximum: 8, total: 60s}   # transient failures only

    agent:                       # required, or s_yaml: the Serverless Devs props.agent, camelCase
      name: my-agent             # required; letters, digits, - and _
      code: {src: code, language: python3.12, command: [python3, app.py]}  # src from the project root
      # or customContainerConfig: {image: ...}; also description, cpu (0.05-16), memory (128-32768),
      # diskSize (512|10240), port, instanceConcurrency (1-200), vpcConfig, internetAccess, nasConfig,
      # role, logConfig, protocolConfiguration, endpoints, sessionIdleTimeoutSeconds,
      # enableSessionIsolation, disableSessionAffinity, ossMountConfig, environmentVariables,
      # credentialName, healthCheckConfiguration, workspace, customDomain, armsConfiguration
    s_yaml:                      # OR import the agent from an existing Serverless Devs s.yaml:
      path: s.prod.yaml          # from the project root; its code.src resolves from its own folder
      resource: my-agent         # needed only if several resources use the agentrun component
      vars: {stage: prod}        # override the s.yaml's top-level vars
      allow_paths: [shared/prompt.txt]   # [none] what its ${file()}/${path()} may read outside its own
                                 # folder (from the project root); .env* and .agentrun/ never otherwise

    credentials:
      profile: prod              # [the env name] keyring entry and ALIYUN_ACCESS_KEY_ID_<PROFILE>
      account_id: "1234567890"
      ram_user: agentrun-ci      # whose AccessKeys rotate-keys rotates
      allow_dotenv: false        # [true; false for prod] may .env / .env.<env> supply keys?
      sinks: [{type: github, repo: org/app}]   # where a rotated key is written
    protect: {branches: [main, "hotfix/*"], confirm: true}   # [any branch, no prompt]
    release:
      strategy: canary           # [canary] | blue-green | direct
      endpoint: prod             # [prod] the endpoint users call
      steps: [0.05, 0.25, 0.5, 1.0]   # canary weights in [0, 1], ascending, ending at 1.0
      interval: 5m               # [60s] analysis time per step
      max_extensions: 3          # inconclusive steps are extended at most this often
      real_traffic: false        # [false] on the cloud, also judge the endpoint's real requests from SLS
      lock_ttl: 3m               # [3m] renewed by the live holder; a dead holder's lock expires after this
      state_bucket: my-bucket    # OSS bucket for release locks and history, shared by every CI runner
      state_prefix: agentrun-tasks/   # [agentrun-tasks/]; state_endpoint: [oss-<region>.aliyuncs.com]
      analysis: {min_requests: 20, inconclusive: extend, max_error_rate: 0.05,
                 max_error_rate_increase: 0.02, max_p50_ms: null, max_p90_ms: null, max_p99_ms: 2000,
                 max_latency_increase_ms: 200, confidence: 0.95, probe_rate: 5}   # null: metric off
      # analysis.metrics: [{name: p50, query: "...", max: 800}]   # custom metrics: core/metrics.py
      checks: [{name: greets, prompt: hi, expect: {contains: [Hello]}}]   # all keys: core/checks.py
      webhooks: [{type: confirm-promotion, url: "${env('APPROVE_URL')}"}]   # all keys: core/webhooks.py
    health: {path: /openai/v1/chat/completions, model: agent, prompt: ping, timeout: 2m,
             interval: 1s, expect_status: 200}
    notify: {channels: [{type: slack, webhook: "${env('SLACK_WEBHOOK')}"}]}   # all keys: core/notify/config.py

Variables, in any string value: ``${env('X')}`` or ``${env(X)}`` (an error if X is unset or empty),
``${env('X', 'default')}``, and ``${ctx.branch_slug}`` and the other CI/Git facts the caller
passes as ``context`` (``ctx.env`` is always the environment's name). A value that is exactly
one variable may stand for a number or boolean (``cpu: ${env('CPU', '1')}``). A value of
``agent.environmentVariables`` read from the process environment (as CI secrets are) is treated
as a secret and masked in all output, if it is 8 characters or longer. An imported s.yaml
resolves its own variables exactly as Serverless Devs does (:mod:`.svars`, :mod:`.srender`).
YAML is read as ``s`` reads it (:mod:`.yamlfile`): duplicate keys, tags and alias bombs are errors.
Unknown keys are errors with a "did you mean" hint; every error names the file, line and key.

This module finds and loads an env file (:func:`load_env`) and builds its :class:`~.model.EnvConfig`
with the defaults above; :mod:`.env_schema` checks its keys and values, :mod:`.units` its durations
and sizes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import checks, metrics, notify, webhooks
from .cienv import PROD_NAMES
from .env_schema import ENV_FILE
from .errors import ConfigError
from .model import (
    AnalysisConfig,
    CredentialsConfig,
    EnvConfig,
    HealthConfig,
    ProtectConfig,
    ReleaseConfig,
)
from .svars import Variables, substitute
from .syaml import REGIONS, Imported, import_syaml
from .units import parse_duration, parse_size
from .validate import Loc
from .yamlfile import load_yaml

__all__ = ["ENV_NAME_RE", "list_envs", "load_env", "parse_duration", "parse_size"]


ENV_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
"""An environment name: also a file name, a keyring entry and an env-var suffix, so no paths."""


LAZY = (("notify",), ("agent", "environmentVariables"))
"""Where an unset ``${env('X')}`` fails only when a task uses the value (sends, deploys), so
``info``, ``history`` and dry runs work without a notify channel's or the agent's secrets."""


def list_envs(root: Path) -> list[str]:
    """The environment names defined under ``root/envs``, sorted."""
    folder = root / "envs"
    return sorted(p.stem for p in folder.glob("*.yaml") if ENV_NAME_RE.fullmatch(p.stem)) if folder.is_dir() else []


def load_env(
    name: str, *, root: Path, environ: Mapping[str, str], context: Mapping[str, str] | None = None,
    access: Callable[[EnvConfig], Mapping[str, Any]] | None = None,
) -> EnvConfig:
    """Load and validate ``root/envs/<name>.yaml`` (importing its ``s_yaml`` if it names one).

    ``environ`` feeds ``${env('X')}``; ``context`` feeds ``${ctx.x}`` (``ctx.env`` is ``name``).
    ``access(env)`` gives the environment's credential fields (``AccountID``, ``AccessKeyID``,
    ``AccessKeySecret``, ``SecurityToken``: Secrets or str) for an s.yaml's ``${config('F')}``;
    it is called only when one is used, with the environment as its env file describes it.
    Raises :class:`ConfigError` with the file, line and key path of the first problem.
    """
    root = root.resolve()
    path = _env_path(name, root)
    display = f"envs/{name}.yaml"
    doc = load_yaml(path, display)
    loc = Loc(display)
    if not isinstance(doc, Mapping):
        raise loc.error("must be a mapping of settings (region:, agent:, ...); it is empty or holds something else.")
    ctx = {"env": name, **(context or {})}
    data = ENV_FILE(substitute(doc, loc, Variables(environ, ctx=ctx, lazy=LAZY)), loc)
    if ("agent" in data) == ("s_yaml" in data):
        raise loc.error("needs exactly one of agent: (the agent inline) or s_yaml: (import it from an s.yaml).")

    s_yaml = None
    if "s_yaml" in data:
        spec = data["s_yaml"]
        s_path = (root / spec["path"]).resolve()
        shown = spec["path"] if not Path(spec["path"]).is_absolute() else str(s_path)
        allowed = tuple(Path(os.path.realpath(root / entry)) for entry in spec.get("allow_paths", ()))
        imported = import_syaml(s_path, display=shown, resource=spec.get("resource"), overrides=spec.get("vars"),
                                environ=environ, access=_lazy_access(access, name, path, data), allowed=allowed)
        data.setdefault("region", imported.region)
        data["agent"], s_yaml = imported.agent, imported
    if "region" not in data:
        raise loc.error("missing required key 'region'.", f"Add region: (one of {', '.join(REGIONS)}).")
    if data.get("emulator") and data.get("driver") == "serverless-devs":
        raise loc.child(doc, "driver").error(
            "the emulator speaks the AgentRun OpenAPI only.", "Use driver: openapi with emulator: true."
        )
    if data.get("release", {}).get("real_traffic") and not data["agent"].get("logConfig"):
        raise loc.child(doc, "release").error(
            "real_traffic: true reads the endpoint's requests from the runtime's SLS logstore, and the agent "
            "has none.", "Set agent.logConfig ({project, logstore}, or auto) or drop real_traffic.")
    return _build(name, path, data, s_yaml)


def _lazy_access(access: Callable[[EnvConfig], Mapping[str, Any]] | None, name: str, path: Path,
                 data: dict) -> Callable[[str], Any] | None:
    if access is None:
        return None
    fields: dict[str, Any] = {}

    def field(key: str) -> Any:
        if not fields:  # the credentials depend on the env file alone (profile, dotenv policy, emulator)
            fields.update(access(_build(name, path, {"region": "", **data, "agent": {}}, None)) or {})
        return fields.get(key)

    return field


def _env_path(name: str, root: Path) -> Path:
    if not isinstance(name, str) or not ENV_NAME_RE.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a valid environment name: use letters, digits, '-' and '_' only "
            f"(it names envs/<name>.yaml, so no paths or extensions). Known: {_known(root)}."
        )
    path = root / "envs" / f"{name}.yaml"
    if not (root / "envs").is_dir():
        raise ConfigError(
            f"envs/{name}.yaml is missing: there is no envs/ folder under {root}. Run from the project root "
            "(or set agentrun.root in invoke.yaml) and create one YAML file per environment there."
        )
    if not path.is_file():
        if path.exists() or path.is_symlink():  # a FIFO, a device or a dangling link: never opened
            raise ConfigError(f"envs/{name}.yaml is not a regular file (a link to a device, a FIFO, a broken "
                              "link...); refused without reading it. Make it a plain YAML file.")
        raise ConfigError(f"unknown environment '{name}': envs/{name}.yaml does not exist. Known: {_known(root)}.")
    return path


def _known(root: Path) -> str:
    return ", ".join(list_envs(root)) or "none (envs/ holds no *.yaml)"


def _build(name: str, path: Path, data: dict, s_yaml: Imported | None) -> EnvConfig:
    credentials = dict(data.get("credentials", {}))
    credentials.setdefault("profile", name)
    credentials.setdefault("allow_dotenv", name not in PROD_NAMES)
    credentials["sinks"] = tuple(credentials.get("sinks", ()))
    release = dict(data.get("release", {}))
    if "steps" in release:
        release["steps"] = tuple(release["steps"])
    analysis = dict(release.get("analysis", {}))
    analysis["metrics"] = metrics.build(analysis.get("metrics"))
    release["analysis"] = AnalysisConfig(**analysis)
    release["checks"] = checks.build(release.get("checks"))
    release["webhooks"] = webhooks.build(release.get("webhooks"))
    protect = dict(data.get("protect", {}))
    protect["branches"] = tuple(protect.get("branches", ()))
    emulator = data.get("emulator", False)
    scalars = {k: data[k] for k in ("control_endpoint", "sls_endpoint", "inline_zip_limit", "deploy_timeout",
                                    "code_outside_project") if k in data}
    return EnvConfig(
        name=name,
        path=path,
        region=data["region"],
        driver=data.get("driver", "openapi"),
        agent=data["agent"],
        protocol=data.get("protocol", "http" if emulator else "https"),
        emulator=emulator,
        retry=data.get("retry", {}),
        credentials=CredentialsConfig(**credentials),
        protect=ProtectConfig(**protect),
        release=ReleaseConfig(**release),
        health=HealthConfig(**data.get("health", {})),
        notify=notify.build(data.get("notify", {})),
        s_yaml=s_yaml.path if s_yaml else None,
        s_yaml_resource=s_yaml.resource if s_yaml else None,
        **scalars,
    )
