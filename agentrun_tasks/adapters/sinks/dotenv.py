"""A ``.env``-style file as a sink: two ``KEY='value'`` lines replaced atomically, the file 0600.

The credential chain reads the same file (``.env.<env>``), so for the local emulator this is
where the rotated key takes effect: the ``.env.local`` the emulator's bootstrap wrote. The write
is one rename of a temporary file beside the target, so preflight does exactly that (a temporary
file in the same folder, then removed) and reads the existing file: a folder that cannot hold it
(``/proc``, a path through a file, a read-only mount) fails before any key exists.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dotenv import dotenv_values

from ...core.credentials import join_pair, split_pair, write_dotenv
from ...core.errors import ConfigError
from ...core.fileio import TEMP_PREFIX
from ...core.secrets import Secret
from ...core.sinks import SinkSpec


class DotenvSink:
    def __init__(self, spec: SinkSpec, root: Path) -> None:
        self.name = spec.name
        self.path = (Path(root) / spec["path"]).resolve()
        self.id_var, self.secret_var = spec["id_var"], spec["secret_var"]

    def preflight(self) -> None:
        try:
            if self.path.exists() and not self.path.is_file():
                raise IsADirectoryError(str(self.path))
            self.values()  # the write keeps the file's other lines: it must read
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f"{TEMP_PREFIX}{self.path.name}.")
            os.close(fd)
            os.unlink(tmp)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"The {self.name} sink cannot be written: {self.path} is not a regular file in a "
                              f"writable folder ({type(exc).__name__}). The key is written by replacing the file with "
                              "a temporary file beside it; point the sink's path at a file in a folder you can write. "
                              "Nothing was changed.") from None

    def values(self) -> dict[str, str | None]:
        return dotenv_values(self.path, interpolate=False) if self.path.exists() else {}

    def write(self, key_id: str, secret: Secret) -> None:
        if self.id_var == self.secret_var:  # the key was found as one pair variable: it goes back as one
            write_dotenv(self.path, {self.id_var: join_pair(key_id, secret.reveal())})
        else:
            write_dotenv(self.path, {self.id_var: key_id, self.secret_var: secret})

    def _held(self) -> tuple[str | None, str | None]:
        values = self.values()
        if self.id_var == self.secret_var:
            return split_pair(values.get(self.id_var)) or (None, None)
        return values.get(self.id_var), values.get(self.secret_var)

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        return self._held() == (key_id, secret.reveal())

    def held_id(self) -> str | None:
        return self._held()[0]
