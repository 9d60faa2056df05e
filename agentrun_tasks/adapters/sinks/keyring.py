"""The OS keyring as a sink: the environment's one JSON entry (``agentrun-tasks/<profile>``), id and
secret replaced together, any account id kept. The bounded, thread-guarded calls of
:class:`~agentrun_tasks.adapters.keyring_store.KeyStore` make a locked keyring an error, not a hang."""

from __future__ import annotations

from ...core.errors import ConfigError
from ...core.secrets import Secret
from ...core.sinks import SinkSpec
from ..keyring_store import KeyStore


class KeyringSink:
    def __init__(self, spec: SinkSpec, store: KeyStore | None = None) -> None:
        self.name = spec.name
        self.profile = spec["profile"]
        self.store = store or KeyStore()

    def preflight(self) -> None:
        seen = len(self.store.warnings)
        self.store.get(self.profile)
        if self.store.warnings[seen:]:
            raise ConfigError(f"The {self.name} sink cannot be used: {self.store.warnings[-1]}")

    def write(self, key_id: str, secret: Secret) -> None:
        entry = dict(self.store.get(self.profile) or {})
        entry.update(access_key_id=key_id, access_key_secret=secret.reveal())
        entry.pop("security_token", None)  # a token belongs to the key it came with
        self.store.set(self.profile, entry)

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        entry = self.store.get(self.profile) or {}
        return entry.get("access_key_id") == key_id and entry.get("access_key_secret") == secret.reveal()

    def held_id(self) -> str | None:
        return (self.store.get(self.profile) or {}).get("access_key_id")
