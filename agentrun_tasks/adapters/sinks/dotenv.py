"""A ``.env``-style file as a sink: two ``KEY='value'`` lines replaced atomically, the file 0600.

The credential chain reads the same file (``.env.<env>``), so for the local emulator this is
where the rotated key takes effect: the ``.env.local`` the emulator's bootstrap wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

from ...core.credentials import write_dotenv
from ...core.errors import ConfigError
from ...core.secrets import Secret
from ...core.sinks import SinkSpec


class DotenvSink:
    def __init__(self, spec: SinkSpec, root: Path) -> None:
        self.name = spec.name
        self.path = (Path(root) / spec["path"]).resolve()
        self.id_var, self.secret_var = spec["id_var"], spec["secret_var"]

    def preflight(self) -> None:
        target = self.path if self.path.exists() else self.path.parent
        if not target.exists() or not os.access(target, os.W_OK):
            raise ConfigError(f"The {self.name} sink cannot be written: {target} is missing or not writable.")

    def write(self, key_id: str, secret: Secret) -> None:
        write_dotenv(self.path, {self.id_var: key_id, self.secret_var: secret})

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        values = dotenv_values(self.path, interpolate=False) if self.path.exists() else {}
        return values.get(self.id_var) == key_id and values.get(self.secret_var) == secret.reveal()
