"""The post-deploy health check: a real chat-completion request, repeated until it answers
well or the time runs out. Unlike the usual ``curl ... || echo``, a failure fails the task."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from ..core.health import judge, request_body
from ..core.model import HealthConfig


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


def chat_once(url: str, cfg: HealthConfig, timeout: float = 10.0) -> tuple[int | None, str, float, str | None]:
    """One check as ``cfg`` describes it: (HTTP status, or None when there was no good answer;
    short detail; latency ms; agent version)."""
    body = json.dumps(request_body(cfg)).encode()
    request = urllib.request.Request(url.rstrip("/") + cfg.path, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
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


def check(url: str, cfg: HealthConfig, *, on_attempt=None, sleep=time.sleep) -> HealthResult:
    """Ask until one request succeeds or ``cfg.timeout`` seconds have passed."""
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        remaining = cfg.timeout - (time.monotonic() - started)
        status, detail, latency, version = chat_once(url, cfg, timeout=max(1.0, min(10.0, remaining)))
        ok = status == cfg.expect_status
        if on_attempt is not None:
            on_attempt(attempts, status)
        elapsed = time.monotonic() - started
        if ok or elapsed + cfg.interval > cfg.timeout:
            return HealthResult(ok, status, attempts, elapsed, latency, detail, version)
        sleep(cfg.interval)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
