"""Start, stop and inspect a background emulator for one project root.

``ensure_running`` reuses a live emulator or starts one detached (its own session, output in
``.agentrun/local/emulator.log``) and waits until ``/_emulator/health`` answers. It listens on the
port asked for, else on the port of its last run (``.agentrun/local/last_port``), so an endpoint
URL printed before ``local.down``/``local.up`` still answers (its OSS keeps its port likewise); a
port asked for that is taken is an error naming what holds it, a last port that is taken a warning
(the URLs change). ``stop`` sends
SIGTERM (the emulator then stops its agents), waits, then SIGKILLs the process group and any
agent process that is still alive: no process or port is left behind. Agents run in sessions of
their own and outlive an emulator killed with SIGKILL, so ``stop`` and every start also sweep
the agent processes of the root (see :func:`_sweep_agents`). Both hold an exclusive
``flock`` on ``.agentrun/local/emulator.lock``, so concurrent callers on one root start one
emulator and share it.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ..core.childenv import allowed
from ..core.errors import ResourceFailedError, WaitTimeoutError
from ..core.secrets import Secret
from . import admin
from .ports import LAST_OSS_PORT_FILE, choose_port, remember_port
from .state import INFO_FILE, state_dir

LOG_FILE = "emulator.log"
LOCK_FILE = "emulator.lock"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class EmulatorInfo:
    url: str
    port: int
    pid: int
    oss_url: str = ""
    admin_headers: dict[str, Secret] = field(default_factory=dict, compare=False)  # opens /_emulator/*


def _info_path(root: Path) -> Path:
    return state_dir(root) / INFO_FILE


def _read_info(root: Path) -> dict | None:
    try:
        return json.loads(_info_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_emulator(pid: int, root: Path) -> bool:
    """Whether ``pid`` is alive and is the emulator of ``root``.

    Not a reused pid, nor another project's emulator that got the pid recorded here.
    """
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        argv = proc.cmdline()
        if "agentrun_tasks.emulator" not in " ".join(argv):
            return False
        # --root DIR or --root=DIR, relative to the emulator's own working directory
        given = next((a.split("=", 1)[1] for a in argv if a.startswith("--root=")), None)
        if given is None and "--root" in argv[:-1]:
            given = argv[argv.index("--root") + 1]
        return given is not None and (Path(proc.cwd()) / given).resolve() == Path(root).resolve()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold ``<directory>/emulator.lock``: one start or stop of a root at a time, across processes."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes, or when this process dies
        yield
    finally:
        os.close(fd)


def _health(url: str, root: Path, timeout: float = 2.0) -> dict | None:
    request = urllib.request.Request(f"{url}/_emulator/health", headers=admin.plain(admin.headers(root)))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def status(root: Path) -> dict | None:
    """``{pid, port, url, started_at, root, agents}`` of the live emulator of ``root``, or None."""
    info = _read_info(root)
    if not info or not _is_emulator(info["pid"], root):
        return None
    health = _health(info["url"], root)
    if health is None or health.get("pid") != info["pid"]:
        return None
    return {**info, "agents": health.get("agents", {})}


def ensure_running(root: Path, port: int = 0, timeout: float = START_TIMEOUT_S) -> EmulatorInfo:
    """The live emulator of ``root``, started first if none runs.

    Concurrent callers (threads or processes) get the same emulator: the check, the start and
    the wait for it run under the root's lock, and a caller that waited re-checks first.
    """
    current = status(root)
    if current is not None:
        return _as_info(current)
    root = Path(root).resolve()
    directory = state_dir(root)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(directory):
        current = status(root)
        if current is not None:
            return _as_info(current)
        return _start(root, directory, port, timeout)


def _as_info(current: dict) -> EmulatorInfo:
    return EmulatorInfo(current["url"], current["port"], current["pid"], current.get("oss_url", ""),
                        admin.headers(Path(current["root"])))


def _start(root: Path, directory: Path, port: int, timeout: float) -> EmulatorInfo:
    _info_path(root).unlink(missing_ok=True)
    port = choose_port(directory, port)
    oss_port = choose_port(directory, 0, last=LAST_OSS_PORT_FILE, avoid=port)
    _sweep_agents(directory)  # left by an emulator that died without stopping them
    log_path = directory / LOG_FILE
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentrun_tasks.emulator", "--root", str(root), "--port", str(port),
             "--oss-port", str(oss_port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=root,
            # The daemon outlives a CI step: it gets no cloud keys nor CI tokens, only its own settings.
            env=allowed(os.environ, prefixes=("AGENTRUN_EMULATOR_",)))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ResourceFailedError(
                f"The local emulator exited with code {proc.returncode} while starting. Its last output "
                f"(from {log_path}):\n{_tail(log_path)}\nFix the cause above and run `invoke local.up` again.")
        info = _read_info(root)
        if info and info.get("pid") == proc.pid and _health(info["url"], root, timeout=1.0):
            remember_port(directory, info["port"])
            remember_port(directory, info["oss_port"], last=LAST_OSS_PORT_FILE)
            return _as_info(info)
        time.sleep(0.1)
    _kill_group(proc.pid)
    proc.wait()
    _sweep_agents(directory)
    raise WaitTimeoutError(f"The local emulator did not answer within {timeout:.0f}s; it was stopped. "
                           f"See {log_path} for its output.")


def stop(root: Path, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop the emulator of ``root`` and its agents. True if one was running."""
    directory = state_dir(root)
    if not directory.is_dir():
        return False
    with _locked(directory):
        return _stop(root, timeout)


def _stop(root: Path, timeout: float) -> bool:
    info = _read_info(root)
    if not info or not _is_emulator(info["pid"], root):
        _sweep_agents(state_dir(root))  # the emulator is gone (e.g. SIGKILL); its agents may not be
        _info_path(root).unlink(missing_ok=True)
        return False
    pid = info["pid"]
    # Its children are the agents: known even when the emulator no longer answers.
    try:
        agents = [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        agents = []
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    _wait_exited(pid, timeout)
    # Whatever did not stop in time goes now: the emulator's group, then each agent's group
    # (agents run in sessions of their own, so the emulator's group does not hold them).
    for group in [pid, *agents]:
        _kill_group(group)
    for leftover in [pid, *agents]:
        _wait_exited(leftover, 5)
    _sweep_agents(state_dir(root))  # agents the emulator started but no longer parents
    _info_path(root).unlink(missing_ok=True)
    return True


def _sweep_agents(directory: Path, timeout: float = 5.0) -> None:
    """SIGKILL the agent processes of the root whose state dir is ``directory``, with their groups.

    An agent is a process whose working directory is under ``<state>/packages/`` (where the
    supervisor starts it) and whose environment has ``AGENTRUN_RUNTIME_VERSION`` (which the
    supervisor sets): a shell someone opened in a package folder is left alone. Found by
    scanning processes, so agents are found after their emulator died without a trace.
    """
    packages = directory / "packages"
    found: list[psutil.Process] = []
    for proc in psutil.process_iter():
        try:
            cwd = Path(proc.cwd())
            if (packages in cwd.parents and proc.pid != os.getpid()
                    and "AGENTRUN_RUNTIME_VERSION" in proc.environ()):
                found.append(proc)
        except (psutil.Error, OSError):
            continue  # gone, a zombie, or another user's
    for proc in found:
        try:
            group = os.getpgid(proc.pid)
            if group != os.getpgrp():
                _kill_group(group)  # the agent's own session: whatever it forked
            proc.kill()
        except (psutil.Error, OSError):
            pass
    deadline = time.monotonic() + timeout
    while found and time.monotonic() < deadline:
        found = [proc for proc in found if _running(proc)]
        if found:
            time.sleep(0.05)


def _wait_exited(pid: int, timeout: float) -> None:
    """Until ``pid`` has exited, at most ``timeout`` seconds: reaped if it is a child of this process,
    else gone or a zombie. The emulator a task started, and its agents, are orphans once that task
    has ended, and init reaps an orphan's zombie in its own time (a second or two in a container):
    waiting for its pid to vanish would wait for that, not for the process."""
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            proc.wait(0.05)  # returns once it is gone (a child of ours is reaped here)
            return
        except psutil.TimeoutExpired:
            pass
        except psutil.NoSuchProcess:
            return
        if not _running(proc) or time.monotonic() >= deadline:
            return


def _running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever reaps it)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_group(pgid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"
