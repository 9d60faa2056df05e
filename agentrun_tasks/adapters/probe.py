"""Synthetic traffic for canary analysis: OpenAI chat-completion POSTs at a steady rate.

The release loop probes a candidate-only and a stable-only endpoint side by side
(:func:`probe_pair`), so both see the same network and the same moment, and hands the samples
to :func:`agentrun_tasks.core.analysis.analyse`. Where the platform keeps a request log (the
emulator does), :func:`samples_from_request_log` turns its rows into the same samples and
:func:`emulator_log_source` reads them; on the cloud that log is in SLS, which this version does
not read, so there the probe alone decides.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.parse
import urllib.request
from collections.abc import Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from ..core.analysis import Sample
from ..core.health import judge, request_body
from ..core.model import HealthConfig
from ..core.secrets import Secret
from .health import data_plane_headers

if TYPE_CHECKING:
    from ..core.ports import LogWindow

T = TypeVar("T")


async def probe(
    url: str,
    *,
    duration: float,
    rate: float,
    health: HealthConfig = HealthConfig(),
    timeout: float = 10,
    headers: Mapping[str, str | Secret] | None = None,
    session: aiohttp.ClientSession | None = None,
) -> list[Sample]:
    """Send ``ceil(duration * rate)`` requests as ``health`` describes them (the environment's
    ``health:`` block: path, model, prompt) to ``url``, one every ``1/rate`` seconds whatever the
    responses do, and return one sample per request.

    A request succeeds on the answer the health check accepts (:func:`core.health.judge`); an
    error status, a connection failure or exceeding ``timeout`` seconds is a failed sample
    timed at the moment it failed.
    The whole probe ends by ``duration + timeout``. ``headers`` values may be :class:`Secret`
    (an endpoint token); they are revealed only into the request itself. They default to the
    agent's data-plane credential (:func:`.health.data_plane_headers`).
    """
    if duration <= 0 or rate <= 0:
        raise ValueError("probe duration and rate must be positive")
    target = url.rstrip("/") + health.path
    headers = data_plane_headers() if headers is None else headers
    sent = {k: v.reveal() if isinstance(v, Secret) else v for k, v in headers.items()}
    count = max(1, math.ceil(duration * rate))
    if session is None:
        async with _session(count) as own:
            return await _run(own, target, health, sent, count, rate, timeout)
    return await _run(session, target, health, sent, count, rate, timeout)


async def probe_pair(
    candidate_url: str, stable_url: str, *, duration: float, rate: float, **kwargs: Any,
) -> tuple[list[Sample], list[Sample]]:
    """Probe both endpoints concurrently with the same schedule: ``(candidate, stable)`` samples."""
    async with _session(2 * max(1, math.ceil(duration * rate))) as session:
        candidate, stable = await asyncio.gather(
            probe(candidate_url, duration=duration, rate=rate, session=session, **kwargs),
            probe(stable_url, duration=duration, rate=rate, session=session, **kwargs),
        )
        return candidate, stable


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` for probe traffic, quiet about interrupts it already passed on.

    A Ctrl-C or SIGTERM (``core.errors.Interrupted``) raised inside a request task is re-raised
    out of the loop by asyncio, and the futures left holding it are reported as "exception was
    never retrieved", with a traceback, when they are collected: after the release has already
    put traffic back and said it was interrupted. Only those reports are dropped.
    """
    async def quietly() -> T:
        asyncio.get_running_loop().set_exception_handler(_unless_interrupted)
        return await coroutine
    return asyncio.run(quietly())


def _unless_interrupted(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if not isinstance(context.get("exception"), KeyboardInterrupt):
        loop.default_exception_handler(context)


def samples_from_request_log(rows: Iterable[Mapping], version: str | None = None) -> list[Sample]:
    """Samples from request-log rows (``ts``, ``status``, ``latency_ms``, ``outcome`` of
    "success" | "fail", ``version``), only ``version``'s when given, in time order."""
    return sorted(
        (Sample(ok=row["outcome"] == "success", latency_ms=float(row["latency_ms"]), ts=float(row["ts"]))
         for row in rows if version is None or str(row.get("version")) == str(version)),
        key=lambda s: s.ts,
    )


def emulator_log_source(emulator_url: str, runtime: str, endpoint: str, stable: str, candidate: str,
                        headers: Mapping[str, Secret] | None = None) -> LogWindow:
    """A ``release.gates.LogSource`` over the emulator's log of ``endpoint`` (``GET
    /_emulator/requests``: real traffic, not the probe's): ``(since, until) -> (candidate, stable)``.
    ``headers`` carry the emulator's admin token, revealed only into the request."""
    sent = {k: v.reveal() for k, v in (headers or {}).items()}

    def source(since: float, until: float) -> tuple[list[Sample], list[Sample]]:
        query = urllib.parse.urlencode({"runtime": runtime, "endpoint": endpoint, "since": since, "until": until})
        request = urllib.request.Request(f"{emulator_url}/_emulator/requests?{query}", headers=sent)
        with urllib.request.urlopen(request, timeout=10) as response:
            rows = json.loads(response.read())
        return samples_from_request_log(rows, candidate), samples_from_request_log(rows, stable)

    return source


def _session(limit: int) -> aiohttp.ClientSession:
    # Enough connections that a slow endpoint cannot throttle the send rate of the probe.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=min(limit, 256), force_close=False))


async def _run(session: aiohttp.ClientSession, target: str, health: HealthConfig, headers: Mapping[str, str],
               count: int, rate: float, timeout: float) -> list[Sample]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(_one(session, target, health, headers, timeout)))
    return list(await asyncio.gather(*tasks))


async def _one(session: aiohttp.ClientSession, target: str, health: HealthConfig, headers: Mapping[str, str],
               timeout: float) -> Sample:
    ts = time.time()
    began = time.perf_counter()
    try:
        async with session.post(target, json=request_body(health), headers=headers,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            ok = judge(health, resp.status, await resp.read()).ok
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        ok = False
    return Sample(ok=ok, latency_ms=(time.perf_counter() - began) * 1000.0, ts=ts)
