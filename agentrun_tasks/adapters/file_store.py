"""A state store in a local folder, with the same contract as :class:`OssStateStore`.

Used when an environment names no ``release.state_bucket``: locks and history then protect
releases from this machine only, which the release task says in a warning.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.fileio import TEMP_PREFIX, write_atomic


class FileStateStore:
    """Keys are relative paths under ``folder``; ``create`` is atomic (``O_EXCL``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.where = str(self.folder)

    def _path(self, key: str) -> Path:
        path = (self.folder / key).resolve()
        if self.folder.resolve() not in path.parents:
            raise ValueError(f"state key {key!r} leaves the store")
        return path

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return True

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> list[str]:
        if not self.folder.is_dir():
            return []
        keys = (p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not Path(k).name.startswith(TEMP_PREFIX))
