"""The post-deploy health check: a real chat-completion request, repeated until it answers
well or the time runs out. Unlike the usual ``curl ... || echo``, a failure fails the task.

An agent deployed with ``credentialName`` answers 401 to a call without its credential: the
check (and the canary probe) send it in ``X-API-Key``, the data link's header, taken from
``AGENTRUN_API_KEY_<ENV>`` or ``AGENTRUN_API_KEY`` as a :class:`Secret` revealed only into the
request itself (never into a detail, a log line or an exception).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..core.health import judge, request_body
from ..core.model import HealthConfig
from ..core.secrets import Secret

API_KEY_VAR = "AGENTRUN_API_KEY"
API_KEY_HEADER = "X-API-Key"


def data_plane_headers(env_name: str | None = None, environ: Mapping[str, str] = os.environ) -> dict[str, Secret]:
    """``{"X-API-Key": key}`` from ``AGENTRUN_API_KEY_<ENV>``, else ``AGENTRUN_API_KEY``; ``{}``
    when neither is set (an agent without ``credentialName`` needs none)."""
    names = ([f"{API_KEY_VAR}_{env_name.upper()}"] if env_name else []) + [API_KEY_VAR]
    key = next((environ[n] for n in names if environ.get(n)), None)
    return {API_KEY_HEADER: Secret(key)} if key else {}


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    status: int | None
    attempts: int
    seconds: float
    latency_ms: float | None
    detail: str
    version: str | None = None  # the x-agent-version header the agent reported, if any

    def to_dict(self) -> dict:
        return {"ok": self.ok, "status": self.status, "attempts": self.attempts, "seconds": round(self.seconds, 3),
                "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
                "detail": self.detail, "agent_version": self.version}


def chat_once(url: str, cfg: HealthConfig, timeout: float = 10.0,
              headers: dict[str, Secret] | None = None) -> tuple[int | None, str, float, str | None]:
    """One check as ``cfg`` describes it: (HTTP status, or None when there was no good answer;
    short detail; latency ms; agent version). ``headers`` default to :func:`data_plane_headers`."""
    if not url:
        return None, "the endpoint has no URL yet", 0.0, None
    body = json.dumps(request_body(cfg)).encode()
    sent = {k: v.reveal() for k, v in (data_plane_headers() if headers is None else headers).items()}
    request = urllib.request.Request(url.rstrip("/") + cfg.path, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **sent})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
            status, version = response.status, response.headers.get("x-agent-version")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:200].decode(errors="replace"), _ms(started), None
    except (urllib.error.URLError, OSError) as exc:
        return None, f"no answer: {getattr(exc, 'reason', exc)}", _ms(started), None
    verdict = judge(cfg, status, payload)
    return (status if verdict.ok else None), verdict.detail, _ms(started), version


def check(url: str, cfg: HealthConfig, *, on_attempt: Callable[[int, int | None], None] | None = None,
          sleep: Callable[[float], None] = time.sleep,
          headers: dict[str, Secret] | None = None) -> HealthResult:
    """Ask until one request succeeds or ``cfg.timeout`` seconds have passed."""
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        remaining = cfg.timeout - (time.monotonic() - started)
        status, detail, latency, version = chat_once(url, cfg, timeout=max(1.0, min(10.0, remaining)),
                                                     headers=headers)
        ok = status == cfg.expect_status
        if on_attempt is not None:
            on_attempt(attempts, status)
        elapsed = time.monotonic() - started
        if ok or elapsed + cfg.interval > cfg.timeout:
            return HealthResult(ok, status, attempts, elapsed, latency, detail, version)
        sleep(cfg.interval)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
