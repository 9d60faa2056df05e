"""Writing a file atomically: readers see the old content or the new, never a partial file.

The one implementation behind every file this package rewrites (the emulator's state and
``emulator.json``, ``.env`` files, the file state store, the test keyring).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".tmp-"  # temporary files are named ``.tmp-<name>.<random>``: skip them when listing


def write_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``, with permissions ``mode`` from the first byte written.

    The data goes to a private temporary file in the same directory, is flushed to disk and
    renamed over ``path``; on any error the temporary file is removed and ``path`` is left as
    it was. The directory must exist.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)  # mkstemp creates 0600; umask does not apply to fchmod
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
