"""Who may use the emulator's admin routes (``/_emulator/*``: health, faults, the request log and
the agents' output): a loopback caller that shows the admin token, as the control plane
requires a signature.

The emulator writes the token to ``.agentrun/local/admin_token`` (mode 0600, beside its state)
the first time it starts, and keeps it across restarts, so a caller that read it once keeps
working. A token file that others could read is replaced: whoever read it may not keep it.
Callers send it in the ``X-Emulator-Token`` header (:func:`headers`); the request log and the
agents' output may hold what a user sent or an agent printed, so another local user must not
read them, nor change the fault settings.
"""

from __future__ import annotations

import hmac
import secrets
import stat
from pathlib import Path

from ..core.fileio import write_atomic
from ..core.secrets import Secret
from .state import state_dir

TOKEN_FILE = "admin_token"
HEADER = "X-Emulator-Token"


def ensure_token(directory: Path) -> str:
    """The token in ``directory``, written first (0600) if missing, unreadable, or readable by others."""
    path = Path(directory) / TOKEN_FILE
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077 == 0:
            token = path.read_text(encoding="ascii").strip()
            if len(token) >= 32:
                return token
    except (OSError, UnicodeDecodeError):
        pass
    token = secrets.token_urlsafe(32)
    write_atomic(path, token.encode("ascii") + b"\n", mode=0o600)
    return token


def headers(root: Path) -> dict[str, Secret]:
    """The header that opens the admin routes of ``root``'s emulator ({} before it first started)."""
    try:
        token = (state_dir(root) / TOKEN_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return {}
    return {HEADER: Secret(token, source=TOKEN_FILE)} if token else {}


def allowed(presented: str | None, token: str) -> bool:
    """Whether ``presented`` is the token (compared in constant time)."""
    return presented is not None and hmac.compare_digest(presented.encode(), token.encode())


def plain(sent: dict[str, Secret]) -> dict[str, str]:
    """The headers as a request sends them (revealed only here, into the request)."""
    return {name: value.reveal() for name, value in sent.items()}


__all__ = ["HEADER", "TOKEN_FILE", "allowed", "ensure_token", "headers", "plain"]
