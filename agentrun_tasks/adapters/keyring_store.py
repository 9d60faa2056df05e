"""The OS keyring as a credential store: one JSON entry per profile under service
``agentrun-tasks``, so an id and its secret always change together.

Keyring backends fail in many ways (no backend on a headless machine, a locked Secret Service,
D-Bus stalls of minutes, even on import). Every call therefore runs in a worker thread with a
time bound; a read that fails or times out counts as "no entry" and leaves a warning in
:attr:`KeyStore.warnings`, while a write that fails raises. ``keyring`` is imported inside that
worker, on first use, so ``invoke --list`` never pays for it. ``PYTHON_KEYRING_BACKEND`` selects
the backend as usual (``keyring.backends.null.Keyring`` on CI machines).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from ..core.credentials import FIELDS, KEYRING_SERVICE
from ..core.errors import ConfigError

logger = logging.getLogger(__name__)

_FIX = (
    "Use environment variables instead, or choose a working backend with PYTHON_KEYRING_BACKEND "
    "(on a headless Linux machine: `dbus-run-session` and an unlocked gnome-keyring)."
)


_STORES_NOTHING = ("keyring.backends.null", "keyring.backends.fail")


class KeyringUnavailable(ConfigError):
    """The keyring backend failed or did not answer in time."""


class KeyStore:
    """Credential entries in the OS keyring (or in ``backend``, a ``keyring`` backend object)."""

    def __init__(self, backend: Any = None, *, timeout: float = 5.0, service: str = KEYRING_SERVICE) -> None:
        self.backend = backend
        self.timeout = timeout
        self.service = service
        self.warnings: list[str] = []

    def get(self, profile: str) -> dict[str, str] | None:
        """The stored fields of ``profile``; ``None`` if absent, malformed or the keyring failed."""
        try:
            raw = self._call("get_password", profile)
        except KeyringUnavailable as exc:
            self._warn(str(exc))
            return None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self._warn(f"keyring entry {self.service}/{profile} is not a JSON object; ignored (re-run credentials.set)")
            return None
        return {k: str(v) for k, v in data.items() if k in FIELDS and v is not None}

    def read(self, entry: str) -> str | None:
        """The text stored under ``entry`` (e.g. a notify webhook kept as ``{keyring: entry}``);
        ``None`` if absent or if the keyring failed (a warning)."""
        try:
            return self._call("get_password", entry)
        except KeyringUnavailable as exc:
            self._warn(str(exc))
            return None

    def check_writable(self, profile: str) -> None:
        """Raise :class:`KeyringUnavailable` unless a backend that keeps entries answers: before
        asking a person for secrets that could not be stored. keyring's ``null`` backend (the CI
        setting) accepts writes and keeps nothing; its ``fail`` backend means none was found."""
        self._call("get_password", profile)  # a failing, locked or stalled backend raises here
        backend = type(self._backend())
        if backend.__module__ in _STORES_NOTHING:
            raise KeyringUnavailable(f"No OS keyring to store in: the backend is "
                                     f"{backend.__module__}.{backend.__name__}, which keeps nothing. {_FIX}")

    def set(self, profile: str, data: Mapping[str, str | None]) -> None:
        """Store ``data`` (keys from :data:`FIELDS`, plain strings) as the entry of ``profile``."""
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown credential fields: {sorted(unknown)}")
        payload = json.dumps({k: v for k, v in data.items() if v}, sort_keys=True)
        self._call("set_password", profile, payload)

    def delete(self, profile: str) -> bool:
        """Remove the entry of ``profile``; ``False`` if there was none."""
        if self._call("get_password", profile) is None:
            return False
        self._call("delete_password", profile)
        return True

    def _warn(self, message: str) -> None:
        logger.warning("%s", message)
        self.warnings.append(message)

    def _call(self, method: str, profile: str, *args: str) -> Any:
        """``backend.<method>(service, profile, *args)`` in a thread, bounded by ``timeout``."""
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["value"] = getattr(self._backend(), method)(self.service, profile, *args)
            except BaseException as exc:  # reported below, in the caller's thread
                box["error"] = exc

        # A daemon thread: a backend stuck in D-Bus must not keep the process alive.
        worker = threading.Thread(target=work, name=f"keyring-{method}", daemon=True)
        worker.start()
        worker.join(self.timeout)
        where = f"keyring {self.service}/{profile}"
        if worker.is_alive():
            raise KeyringUnavailable(f"The OS keyring did not answer within {self.timeout:g} s ({where}); "
                                     f"it may be locked. {_FIX}")
        if "error" in box:
            exc = box["error"]
            # Only the class name and the backend's own message: neither contains the payload.
            raise KeyringUnavailable(f"The OS keyring failed ({where}): {type(exc).__name__}: {_short(exc)}. {_FIX}")
        return box.get("value")

    def _backend(self) -> Any:
        if self.backend is None:
            import keyring  # lazily: importing it can touch D-Bus

            self.backend = keyring.get_keyring()
        return self.backend


def _short(exc: BaseException, limit: int = 160) -> str:
    """The backend's first sentence, cut at a word (never inside a URL) if still too long."""
    text = str(exc).splitlines()[0] if str(exc) else "no message"
    text = text.split(". ")[0].rstrip(".")
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."

