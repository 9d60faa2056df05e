"""Running acceptance checks (``release.checks``): one chat request to an endpoint, or the
user's own program, each with a time bound. Verdicts are :mod:`agentrun_tasks.core.checks`'.

The data-plane key travels in a request header or in the program's environment, never in its
argv; the program starts in its own process group so a time-out stops its children too (a test
runner's workers), and from an allow-listed environment (:mod:`agentrun_tasks.core.childenv`),
not a copy of this process's (a CI job's tokens stay here).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError
from ..core.secrets import Secret

READ_LIMIT = 1024 * 1024  # an answer longer than this is judged on its first MiB


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    body: bytes
    latency_ms: float
    error: str = ""


def ask(url: str, body: dict, *, headers: Mapping[str, str | Secret], timeout: float) -> Answer:
    """POST ``body`` as JSON to ``url``; an error status is an answer, not an exception."""
    sent = {k: v.reveal() if isinstance(v, Secret) else v for k, v in headers.items()}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **sent})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read(READ_LIMIT), _ms(started))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read(READ_LIMIT), _ms(started))
    except (urllib.error.URLError, OSError) as exc:  # includes socket timeouts
        return Answer(None, b"", _ms(started), str(getattr(exc, "reason", exc)))


@dataclass(frozen=True)
class Ran:
    returncode: int | None  # None: stopped at the time bound
    output: str  # stdout and stderr, interleaved
    seconds: float


def execute(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float) -> Ran:
    """Run the user's program to completion or ``timeout`` seconds, whichever comes first."""
    started = time.monotonic()
    try:
        child = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                 start_new_session=True)
    except FileNotFoundError:
        raise ConfigError(f"{argv[0]} is not installed (not found on PATH); a command check names a program "
                          "and its arguments.") from None
    try:
        output, _ = child.communicate(timeout=timeout)
        return Ran(child.returncode, output or "", time.monotonic() - started)
    except subprocess.TimeoutExpired:
        _stop(child)
        output, _ = child.communicate()
        return Ran(None, output or "", time.monotonic() - started)
    finally:
        if child.poll() is None:  # interrupted (Ctrl-C, SIGTERM): its whole group goes too
            _stop(child)
            child.wait()


def _stop(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
