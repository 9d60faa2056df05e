"""Code packages: the zip of each create/update kept by content, unpacked once per SHA-256.

``<state>/packages/<sha256>.zip`` is written while the API call is answered (so a restart in
the middle of a deployment can redo it); ``<state>/packages/<sha256>/`` is unpacked in the
background, into a temporary directory renamed into place, so a half-unpacked package is never
run; when two unpack one package at once, the first rename wins and both use its directory.
Executable bits recorded in the zip are kept (a shell ``command`` needs them).

The unpacked size is capped at ``MAX_UNPACKED`` as the cloud caps a code package (Function
Compute, which runs AgentRun's code runtimes, limits code to 500 MB): the sizes the archive
declares are checked when it is stored, and the bytes actually written while it is unpacked, so
a small archive that inflates to gigabytes (or lies about its sizes) never fills the disk.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from ..core.fileio import write_atomic

MAX_UNPACKED = 500 * 1024 * 1024
_CHUNK = 1 << 20


class CodeTooLarge(ValueError):
    """The package unpacks to more than the cap."""


def _too_large(size: int, limit: int) -> CodeTooLarge:
    return CodeTooLarge(f"the package unpacks to more than {limit} bytes ({size} or more); the code size "
                        f"limit is {limit // (1024 * 1024)} MiB unpacked")


def store_zip(directory: Path, sha: str, data: bytes, limit: int = MAX_UNPACKED) -> bool:
    """Keep ``data`` as ``<sha>.zip``; False if it is not a zip archive, CodeTooLarge if it
    declares more than ``limit`` bytes unpacked."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return False
    if declared > limit:
        raise _too_large(declared, limit)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{sha}.zip"
    if not target.exists():
        write_atomic(target, data)
    return True


def unpack(directory: Path, sha: str, limit: int = MAX_UNPACKED) -> Path:
    """``<directory>/<sha>/``, unpacking ``<sha>.zip`` the first time. Raises OSError/ValueError
    (CodeTooLarge once more than ``limit`` bytes were written)."""
    target = directory / sha
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=f".{sha[:12]}."))
    try:
        written = 0
        with zipfile.ZipFile(directory / f"{sha}.zip") as archive:
            for info in archive.infolist():
                # extract() refuses absolute paths and "..", so a package cannot write outside;
                # the copy below counts what is written instead of trusting the declared size.
                path = Path(archive.extract(info, staging)) if info.is_dir() else _extract(
                    archive, info, staging, limit - written)
                written += path.stat().st_size if path.is_file() else 0
                if written > limit:
                    raise _too_large(written, limit)
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


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, staging: Path, limit: int) -> Path:
    """Extract one file member, writing at most ``limit + 1`` bytes whatever size it declares.

    Names are sanitised as ``ZipFile.extract`` does: no absolute paths, no "..".
    """
    parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    path = staging.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    budget = limit + 1
    with archive.open(info) as source, open(path, "wb") as out:
        while budget > 0:
            chunk = source.read(min(_CHUNK, budget))
            if not chunk:
                break
            out.write(chunk)
            budget -= len(chunk)
    return path
