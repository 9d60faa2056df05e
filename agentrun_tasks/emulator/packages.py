"""Code packages: the zip of each create/update kept by content, unpacked once per SHA-256.

``<state>/packages/<sha256>.zip`` is written while the API call is answered (so a restart in
the middle of a deployment can redo it); ``<state>/packages/<sha256>/`` is unpacked in the
background, into a temporary directory renamed into place, so a half-unpacked package is never
run; when two unpack one package at once, the first rename wins and both use its directory. Executable bits recorded in the zip are kept (a shell ``command`` needs them).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from ..core.fileio import write_atomic

def store_zip(directory: Path, sha: str, data: bytes) -> bool:
    """Keep ``data`` as ``<sha>.zip``; False if it is not a zip archive."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return False
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{sha}.zip"
    if not target.exists():
        write_atomic(target, data)
    return True


def unpack(directory: Path, sha: str) -> Path:
    """``<directory>/<sha>/``, unpacking ``<sha>.zip`` the first time. Raises OSError/ValueError."""
    target = directory / sha
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=f".{sha[:12]}."))
    try:
        with zipfile.ZipFile(directory / f"{sha}.zip") as archive:
            for info in archive.infolist():
                # extract() refuses absolute paths and "..", so a package cannot write outside
                path = Path(archive.extract(info, staging))
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    path.chmod(mode | 0o600)
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():
                raise
            # Another runtime with the same package unpacked it first: same content, use it.
    except zipfile.BadZipFile as exc:
        raise ValueError(str(exc)) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
