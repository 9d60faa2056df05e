"""Which port the emulator listens on: a stable local URL across ``local.down``/``local.up``.

The port asked for, else the one of its last run (``.agentrun/local/last_port``), else any free
one. A port asked for that is taken is an error naming what holds it; a last port that is taken
is a warning, since the endpoint URLs printed before then change.
"""

from __future__ import annotations

import socket
import warnings
from pathlib import Path

import psutil

from ..core.errors import ConfigError

LAST_PORT_FILE = "last_port"


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


def choose_port(directory: Path, port: int) -> int:
    """The port asked for (ConfigError if taken), else the last run's if free, else 0 (any)."""
    if port:
        if not _free(port):
            raise ConfigError(f"port {port} on 127.0.0.1 is taken by {_holder(port)}, so the local emulator "
                              "cannot listen there. Stop that process or choose another port "
                              "(`invoke local.up --port N`).")
        return port
    try:
        last = int((directory / LAST_PORT_FILE).read_text().strip())
    except (OSError, ValueError):
        return 0
    if _free(last):
        return last
    warnings.warn(f"the local emulator's last port {last} is taken by {_holder(last)}: it listens on a new "
                  "port, so endpoint URLs printed before no longer answer (`invoke endpoint.list` shows the "
                  "new ones).", stacklevel=2)
    return 0


def remember_port(directory: Path, port: int) -> None:
    """Record the port a started emulator listens on, for the next start."""
    (directory / LAST_PORT_FILE).write_text(f"{port}\n", encoding="utf-8")
