"""Keyring backends for tests, so no test ever touches a real OS keyring.

* :class:`MemoryKeyring` and the ``memory_keyring`` pytest fixture, for in-process tests
  (``pytest -p agentrun_tasks.testing.keyring``, or import the fixture in a ``conftest.py``).
* :class:`FileKeyring`, for tests that run real ``invoke`` processes: select it with
  ``PYTHON_KEYRING_BACKEND=agentrun_tasks.testing.keyring.FileKeyring`` and point
  ``AGENTRUN_TEST_KEYRING_DIR`` at a temporary directory. It stores plain JSON (mode 0600) and
  refuses to work without that variable, so it can never become anyone's real keyring.

Neither backend is ever chosen by keyring's automatic detection: both report no priority
unless asked for by name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring
import keyring.backend
import keyring.core
import pytest
from keyring.compat import properties
from keyring.errors import PasswordDeleteError

from ..core.fileio import write_atomic

__all__ = ["DIR_VAR", "FileKeyring", "MemoryKeyring", "file_keyring_env", "memory_keyring"]

DIR_VAR = "AGENTRUN_TEST_KEYRING_DIR"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Passwords in a dict, for one test."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("MemoryKeyring is installed explicitly (keyring.set_keyring), never detected")

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError(f"no entry for {service}/{username}")


class FileKeyring(keyring.backend.KeyringBackend):
    """Passwords in ``$AGENTRUN_TEST_KEYRING_DIR/keyring.json`` (0600), for subprocess tests."""

    @properties.classproperty
    def priority(cls) -> float:
        if not os.environ.get(DIR_VAR):
            raise RuntimeError(f"FileKeyring needs {DIR_VAR} (a temporary directory)")
        return 0.1

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        super().__init__()
        directory = directory or os.environ.get(DIR_VAR)
        if not directory:
            raise RuntimeError(f"FileKeyring needs {DIR_VAR} (a temporary directory)")
        self.path = Path(directory) / "keyring.json"

    def _load(self) -> dict[str, str]:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def _save(self, data: dict[str, str]) -> None:
        write_atomic(self.path, json.dumps(data).encode("utf-8"))

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(f"no entry for {service}/{username}")
        self._save(data)


def file_keyring_env(directory: str | os.PathLike) -> dict[str, str]:
    """Environment variables that make a child process use a :class:`FileKeyring` in ``directory``."""
    return {"PYTHON_KEYRING_BACKEND": f"{__name__}.FileKeyring", DIR_VAR: str(directory)}


@pytest.fixture
def memory_keyring():
    """Install a fresh :class:`MemoryKeyring` as the process keyring; restore the old one after."""
    # The private slot, not get_keyring(): that would run backend detection (and maybe touch
    # the developer's real keyring) only to have something to restore. None = detect lazily.
    previous = keyring.core._keyring_backend
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.core._keyring_backend = previous
