"""Which ports the emulator listens on: stable local URLs across ``local.down``/``local.up``.

The control port: the one asked for, else the one of its last run (``.agentrun/local/last_port``),
else any free one. A port asked for that is taken is an error naming what holds it; a last port
that is taken is a warning, since the endpoint URLs printed before then change. The OSS port
follows the same rule through ``last_oss_port``: an environment whose state store points at the
emulator's OSS keeps reaching it.
"""

from __future__ import annotations

import socket
import warnings
from pathlib import Path

import psutil

from ..core.errors import ConfigError

LAST_PORT_FILE = "last_port"
LAST_OSS_PORT_FILE = "last_oss_port"


def _holder(port: int) -> str:
    """Who listens on loopback ``port``, as far as this user may know."""
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return f"process {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.Error, OSError):
        pass
    return "another process"


def _free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(directory: Path, port: int, *, last: str = LAST_PORT_FILE, avoid: int = 0) -> int:
    """The port asked for (ConfigError if taken), else the last run's (from the file ``last``) if
    free and not ``avoid`` (the port the other listener takes), else 0 (any)."""
    if port:
        if not _free(port):
            raise ConfigError(f"port {port} on 127.0.0.1 is taken by {_holder(port)}, so the local emulator "
                              "cannot listen there. Stop that process or choose another port "
                              "(`invoke local.up --port N`).")
        return port
    try:
        previous = int((directory / last).read_text().strip())
    except (OSError, ValueError):
        return 0
    if not 0 < previous < 65536:
        return 0
    if previous != avoid and _free(previous):
        return previous
    holder = "its own API (--port)" if previous == avoid else _holder(previous)
    if last == LAST_OSS_PORT_FILE:
        warnings.warn(f"the local emulator's last OSS port {previous} is taken by {holder}: its OSS "
                      "listens on a new port, so a state store configured with the old URL no longer answers "
                      "(`invoke local.status` shows the new one).", stacklevel=2)
    else:
        warnings.warn(f"the local emulator's last port {previous} is taken by {holder}: it listens on "
                      "a new port, so endpoint URLs printed before no longer answer (`invoke endpoint.list` shows "
                      "the new ones).", stacklevel=2)
    return 0


def remember_port(directory: Path, port: int, *, last: str = LAST_PORT_FILE) -> None:
    """Record a port a started emulator listens on, for the next start."""
    (directory / last).write_text(f"{port}\n", encoding="utf-8")
