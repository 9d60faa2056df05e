"""Runs one local process per published agent version, as the cloud runs one instance.

Each process gets a free loopback port in ``PORT`` and ``FC_SERVER_PORT`` (the variable
AgentRun sets), ``AGENTRUN_BIND_HOST=127.0.0.1`` (the address to bind: loopback only), its
version in ``AGENTRUN_RUNTIME_VERSION``, and starts in its own session
so that stopping it takes its whole process group. A ``python``/``python3``/``python3.X``
command runs under the emulator's own interpreter (``sys.executable``): the laptop's Python
stands in for the cloud runtime's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from .spec import ProcessSpec

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0
FAILED_HOLD_S = 5.0  # ensure() repeats a start failure this long instead of relaunching
_PYTHON = re.compile(r"python(3(\.\d+)?)?")
# The agent sees only these of the emulator's variables: the emulator's own environment may
# hold AccessKeys, which a cloud instance would never see.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


class StartFailed(Exception):
    """A version's process did not come up; the message is the reason, fit for a statusReason."""


@dataclass
class _Running:
    process: asyncio.subprocess.Process
    url: str
    log_offset: int  # where this run's output starts in the key's log file


class Supervisor:
    """Starts, restarts and stops agent processes, one per ``ProcessSpec.key``."""

    def __init__(self, log_dir: Path, start_timeout: float = START_TIMEOUT_S):
        self.log_dir = Path(log_dir)
        self.start_timeout = start_timeout
        self._running: dict[str, _Running] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._failed: dict[str, tuple[float, str]] = {}  # key -> (when, reason)
        self._used: dict[str, float] = {}  # key -> when a request last asked for it (monotonic)

    def log_path(self, key: str) -> Path:
        """Where the process of ``key`` writes its stdout and stderr."""
        return self.log_dir / f"{key}.log"

    async def ensure(self, spec: ProcessSpec) -> str:
        """The base URL of the spec's process, starting it if it is not running or died.

        A version that failed to start less than ``FAILED_HOLD_S`` ago fails again at once, so
        a stream of requests to a broken version does not launch a process each.
        """
        key = spec.key
        self._used[key] = time.monotonic()
        running = self._running.get(key)
        if running is not None and running.process.returncode is None:
            return running.url  # the hot path of every proxied request: no lock, no I/O
        failed = self._failed.get(key)
        if failed is not None and time.monotonic() - failed[0] < FAILED_HOLD_S:
            raise StartFailed(failed[1])
        return await self.start(spec)

    async def start(self, spec: ProcessSpec) -> str:
        """Start the spec's process (once, however many callers) and wait until it answers.

        Returns its base URL ``http://127.0.0.1:<port>``. Raises ``StartFailed`` when the process
        exits or does not answer ``GET /`` within the start timeout.
        """
        async with self._locks.setdefault(spec.key, asyncio.Lock()):
            running = self._running.get(spec.key)
            if running is not None:
                if running.process.returncode is None:
                    return running.url
                log.warning("agent process %s (version %s) exited with code %s; restarting",
                            spec.key, spec.version, running.process.returncode)
                del self._running[spec.key]
            try:
                running = await self._launch(spec)
                try:
                    await self._wait_ready(spec, running)
                except BaseException:
                    await self._terminate(running.process)
                    raise
            except StartFailed as e:
                self._failed[spec.key] = (time.monotonic(), str(e))
                raise
            self._failed.pop(spec.key, None)
            self._used[spec.key] = time.monotonic()
            self._running[spec.key] = running
            return running.url

    async def stop(self, key: str) -> None:
        """Stop the process of ``key`` and everything it started; no-op when none runs."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            running = self._running.pop(key, None)
            if running is not None:
                await self._terminate(running.process)

    async def stop_idle(self, keep: set[str], idle: float) -> list[str]:
        """Stop the processes not in ``keep`` that no request asked for in ``idle`` seconds (a
        version no endpoint routes to holds memory for nothing); :meth:`ensure` starts one again
        when it is asked for. Returns the keys stopped."""
        now = time.monotonic()
        idle_keys = [key for key in list(self._running) if key not in keep
                     and now - self._used.get(key, 0.0) >= idle]
        for key in idle_keys:
            log.info("stopping agent process %s: no endpoint routes to it and it was idle %.0f s", key, idle)
            await self.stop(key)
        return idle_keys

    async def stop_all(self) -> None:
        """Stop every process this supervisor started."""
        await asyncio.gather(*(self.stop(key) for key in list(self._running)))

    def pids(self) -> dict[str, int]:
        """The process id of each running key (for status output and tests)."""
        return {key: r.process.pid for key, r in self._running.items()
                if r.process.returncode is None}

    async def _launch(self, spec: ProcessSpec) -> _Running:
        if not spec.command:
            raise StartFailed("the runtime has no command to start")
        port = _free_port()
        argv = list(spec.command)
        if _PYTHON.fullmatch(argv[0]):
            argv[0] = sys.executable
        env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        env.update(spec.env)
        # The cloud's instance binds every interface of its own sandbox; a laptop's agent binds
        # loopback only, so nobody on the network reaches it around the emulator.
        env.update(PORT=str(port), FC_SERVER_PORT=str(port), AGENTRUN_BIND_HOST="127.0.0.1",
                   AGENTRUN_RUNTIME_VERSION=spec.version,
                   PYTHONPATH=str(spec.workdir), PYTHONUNBUFFERED="1")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # 0600: the agent may print what it was given in its environment.
        fd = os.open(self.log_path(spec.key), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} version {spec.version} "
                      f"port {port}: {' '.join(spec.command)}\n".encode())
            out.flush()
            offset = out.tell()
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv, cwd=spec.workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
                    stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
            except OSError as e:
                raise StartFailed(f"cannot run {spec.command[0]!r} in {spec.workdir}: "
                                  f"{e.strerror or e}") from None
        log.info("started agent %s version %s (pid %s) on port %s",
                 spec.runtime_name, spec.version, process.pid, port)
        return _Running(process, f"http://127.0.0.1:{port}", offset)

    async def _wait_ready(self, spec: ProcessSpec, running: _Running) -> None:
        """Poll ``GET /`` until any HTTP answer; fail fast when the process exits."""
        deadline = time.monotonic() + self.start_timeout
        probe_timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=probe_timeout) as session:
            while True:
                if running.process.returncode is not None:
                    raise StartFailed(f"process exited with code {running.process.returncode}: "
                                      f"{self._last_lines(spec.key, running.log_offset)}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(running.url + "/") as response:
                        await response.read()
                        return
                if time.monotonic() > deadline:
                    port = running.url.rsplit(":", 1)[1]
                    raise StartFailed(f"no answer on port {port} after {self.start_timeout:g} s; "
                                      f"log: {self._last_lines(spec.key, running.log_offset) or '(empty)'}")
                await asyncio.sleep(0.05)

    def output(self, key: str, count: int) -> list[str] | None:
        """The last ``count`` lines the process of ``key`` wrote (all its runs); None if none ran."""
        try:
            with open(self.log_path(key), "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - count * 512))  # enough for count long lines
                return f.read().decode(errors="replace").splitlines()[-count:]
        except OSError:
            return None

    def _last_lines(self, key: str, offset: int, count: int = 5) -> str:
        """The end of this run's output: usually the traceback that says why it died."""
        try:
            with open(self.log_path(key), "rb") as f:
                f.seek(offset)
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in lines[-count:] if line.strip())

    @staticmethod
    async def _terminate(process: asyncio.subprocess.Process) -> None:
        """SIGTERM the process group, SIGKILL it after a grace period, then sweep stragglers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        # The group outlives its leader while any child the agent forked is alive.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


def _free_port() -> int:
    """A loopback port nobody listens on now (the agent binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
