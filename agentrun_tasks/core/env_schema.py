"""The schema of an env file: :data:`ENV_FILE` checks every key and value of ``envs/<name>.yaml``
(after variable substitution) and converts durations and sizes. The layout it enforces is
documented in :mod:`.config`, which loads the file and builds the :class:`~.model.EnvConfig`."""

from __future__ import annotations

import functools
from typing import Any

from . import checks, metric_query, metrics, notify, webhooks
from .errors import ConfigError
from .federation import MAX_DURATION_S, MIN_DURATION_S, PROVIDER_ARN, ROLE_ARN
from .syaml import AGENT, REGIONS
from .units import MAX_WAIT, parse_duration, parse_size
from .validate import (
    Loc,
    Validator,
    boolean,
    choice,
    integer,
    loose_mapping,
    mapping,
    nullable,
    number,
    parsed,
    seq,
    string,
)

__all__ = ["DRIVERS", "ENV_FILE"]


DRIVERS = ("openapi", "serverless-devs")

_wait = functools.partial(parse_duration, maximum=MAX_WAIT)  # every duration an env file sets is a wait
_duration = parsed(_wait)
_positive_duration = parsed(_wait, minimum=0.001)
_weight = number(0, 1)
_role_arn = string(pattern=ROLE_ARN, fix="Write acs:ram::<account>:role/<name>.")


def _account_id(value: Any, loc: Loc) -> str:
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise loc.error(
            "is not an Alibaba Cloud account ID: write its digits, quoted (account_id: \"1234567890123456\")."
        )
    return text


def _steps_rules(release: dict, node: Any, loc: Loc) -> None:
    steps = release.get("steps")
    if not steps:
        return
    at = loc.child(node, "steps")
    for i in range(1, len(steps)):
        if steps[i] <= steps[i - 1]:
            raise at.child(node["steps"], i).error(
                f"{steps[i]:g} does not exceed the step before it ({steps[i - 1]:g}).", "Canary weights must ascend."
            )
    if steps[-1] != 1.0:
        raise at.error(f"the last step is {steps[-1]:g}; it must be 1.0 so the release ends with all traffic.")


_ANALYSIS = mapping({
    "min_requests": integer(0, None),
    "inconclusive": choice(("extend", "fail")),
    "max_error_rate": nullable(_weight),
    "max_error_rate_increase": nullable(_weight),
    "max_p50_ms": nullable(number(0)),
    "max_p90_ms": nullable(number(0)),
    "max_p99_ms": nullable(number(0)),
    "max_latency_increase_ms": nullable(number(0)),
    "confidence": number(0, 1, open_low=True, open_high=True),
    "probe_rate": number(0, None, open_low=True),
    "metrics": seq(metrics.METRIC),
}, after=lambda analysis, node, loc: _unique(analysis.get("metrics", ()), node, loc.child(node, "metrics")))


def _unique(items: list, node: Any, loc: Loc) -> None:
    names = [item["name"] for item in items]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise loc.error(f"two metrics are named {twice!r}; names must be unique (they name rows and failures).")


def _emulator_metrics(data: dict, node: Any, loc: Loc) -> None:
    """On the embedded AgentRun a metric query must be in the subset it answers: said at load."""
    if not data.get("emulator"):
        return
    for i, metric in enumerate(data.get("release", {}).get("analysis", {}).get("metrics", ())):
        try:
            metric_query.parse(metrics.fill(metric["query"], "1", 0, 1))
        except ConfigError as unsupported:
            at = loc
            for key in ("release", "analysis", "metrics", i, "query"):
                at, node = at.child(node, key), node[key]
            raise at.error(str(unsupported)) from None


def _host_port(example: str) -> Validator:
    return nullable(string(pattern=r"[A-Za-z0-9.-]+(:\d{1,5})?",
                           fix=f"Write host[:port] without a scheme ({example})."))


ENV_FILE = mapping({
    "region": choice(REGIONS),
    "driver": choice(DRIVERS),
    "emulator": boolean(),
    "control_endpoint": _host_port("e.g. 127.0.0.1:8080; set protocol: http for plain HTTP"),
    "sls_endpoint": _host_port("e.g. cn-hangzhou-intranet.log.aliyuncs.com inside a VPC"),
    "protocol": choice(("http", "https")),
    "inline_zip_limit": parsed(parse_size),
    "deploy_timeout": _positive_duration,
    "code_outside_project": boolean(),
    "retry": mapping({"attempts": integer(1, 100), "initial": _duration, "maximum": _duration, "total": _duration}),
    "agent": AGENT,
    "s_yaml": mapping({
        "path": string(),
        "resource": string(),
        "vars": mapping({}, extra=lambda value, loc: value),  # as written: keeps the from_env mark of ${env(...)}
        "allow_paths": seq(string()),  # what its file()/path() may read outside its folder (from the project root)
    }, required=("path",)),
    "credentials": mapping({
        "profile": string(pattern=r"[A-Za-z0-9_-]+", fix="A profile holds only letters, digits, '-' and '_'."),
        "account_id": _account_id,
        "ram_user": string(),
        "ram_endpoint": _host_port("e.g. ram.vpc-proxy.aliyuncs.com"),
        "sts_endpoint": _host_port("e.g. sts-vpc.cn-hangzhou.aliyuncs.com"),
        "allow_dotenv": boolean(),
        "sinks": seq(loose_mapping()),
        "role_arn": _role_arn,
        "external_id": string(),
        "oidc": mapping({
            "role_arn": _role_arn,
            "provider_arn": string(pattern=PROVIDER_ARN, fix="Write acs:ram::<account>:oidc-provider/<name>."),
            "audience": string(),
            "duration": parsed(functools.partial(parse_duration, maximum=MAX_DURATION_S), minimum=MIN_DURATION_S),
            "session_name": string(pattern=r"[A-Za-z0-9_.@-]{2,64}", fix="2-64 letters, digits, '.', '@', '-' or '_'."),
            "token_file": string(),
            "token_env": string(pattern=r"[A-Za-z_][A-Za-z0-9_]*", fix="A variable name."),
        }, required=("role_arn", "provider_arn")),
    }),
    "protect": mapping({"branches": seq(string()), "confirm": boolean()}),
    "release": mapping({
        "strategy": choice(("canary", "blue-green", "direct")),
        "endpoint": string(
            pattern=r"[A-Za-z0-9][A-Za-z0-9_-]*", fix="An endpoint name holds letters, digits, '-' and '_'."
        ),
        "steps": seq(_weight, min_len=1),
        "interval": _positive_duration,
        "max_extensions": integer(0, 100),
        "lock_ttl": _positive_duration,
        "analysis": _ANALYSIS,
        "checks": checks.schema(_positive_duration),
        "webhooks": webhooks.schema(_positive_duration),
        "real_traffic": boolean(),
        "state_bucket": nullable(string(pattern=r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]",
                                        fix="An OSS bucket name: 3-63 lowercase letters, digits and '-'.")),
        "state_prefix": string(),
        "state_endpoint": nullable(string()),
    }, after=_steps_rules),
    "health": mapping({
        "path": string(pattern=r"/\S*", fix="Write a path starting with '/'."),
        "model": string(),
        "prompt": string(),
        "timeout": _positive_duration,
        "interval": _positive_duration,
        "expect_status": integer(100, 599),
    }),
    "notify": notify.notify_block(_wait),
}, after=_emulator_metrics)
"""Validator of a whole env file."""
