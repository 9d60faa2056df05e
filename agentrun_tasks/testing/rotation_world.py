"""Rotation test worlds, one per test: the emulator's RAM/STS, local GitHub, GitLab, Jenkins, Bitbucket,
CircleCI, Yunxiao and KMS servers, an in-memory keyring and the emulator's .env.local, every sink
seeded with the key in use (as a real setup is). Each test gets its own, so xdist can spread them."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import keyring
import keyring.core

from ..adapters.file_store import FileStateStore
from ..adapters.keyring_store import KeyStore
from ..core.report import Reporter
from ..core.rotation import Options
from ..core.rotation_journal import Journal, journal_key
from ..emulator.account import BOOTSTRAP_USER
from ..flows.rotation import plan, rotate
from .emulator import RunningEmulator, running_emulator
from .keyring import MemoryKeyring
from .rotation import (
    KillSwitch,
    SinkPlatforms,
    invariant_problems,
    local_credentials,
    local_ram,
    local_rotation,
    ram_keys,
)

NEXT_RUN = Options(min_age=90 * 86400)  # a weekly schedule: resumes a rotation, starts none on a young key


@dataclass
class World:
    emu: RunningEmulator
    platforms: SinkPlatforms
    store: FileStateStore
    output: io.StringIO = field(default_factory=io.StringIO)
    errors: list[str] = field(default_factory=list)
    secrets_seen: set[str] = field(default_factory=set)
    checks: int = 0

    def journal(self) -> Journal | None:
        raw = self.store.get(journal_key(BOOTSTRAP_USER))
        return Journal.from_json(raw) if raw else None

    def keys(self) -> dict[str, dict]:
        found = ram_keys(self.emu.root, BOOTSTRAP_USER)
        self.secrets_seen |= {k["secret"] for k in found.values()}
        return found

    def problems(self) -> list[str]:
        self.keys()
        self.checks += 1
        return invariant_problems(self.emu.root, BOOTSTRAP_USER, self.platforms.held(), self.journal())

    def rotation(self, *, options=None, verify_timeout=5.0, switch: KillSwitch | None = None, **fields):
        run = local_rotation(self.emu.root, self.emu.endpoint, self.platforms, self.store,
                             Reporter(out=self.output, err=self.output, interactive=False),
                             options=options or Options(), verify_timeout=verify_timeout, **fields)
        return switch.install(run) if switch else run

    def run(self, *, dry=False, **kw):
        run = self.rotation(**kw)
        try:
            return plan(run) if dry else rotate(run)
        except Exception as exc:
            self.errors.append(str(exc))
            raise

    def env_key_works(self) -> bool:
        """The key the environment resolves (.env.local) passes STS: what a deploy signs with."""
        creds = local_credentials(self.emu.root)
        local_ram(self.emu.root, self.emu.endpoint).verify(creds.access_key_id.reveal(), creds.access_key_secret,
                                                           timeout=5)
        return True


def converged(w: World) -> str:
    """One key, active, held by every sink and accepted by STS, and the journal at rest."""
    keys = w.keys()
    assert len(keys) == 1, keys
    assert all(k["status"] == "Active" for k in keys.values()), keys
    (key_id,) = keys
    assert {i for i, _ in w.platforms.held().values()} == {key_id}
    journal = w.journal()
    assert journal is None or journal.phase == "done"
    assert w.env_key_works()
    assert not w.problems()
    return key_id


def no_secret_in(w: World) -> None:
    text = w.output.getvalue() + "\n".join(w.errors)
    store_text = "".join((w.store.get(k) or b"").decode(errors="replace") for k in w.store.list(""))
    tokens = {v for k, v in w.platforms.environ().items() if k != "JENKINS_USER"}
    for secret in w.secrets_seen | tokens:
        assert secret not in text, "a secret reached the output"
        assert secret[4:-4] not in text, "a secret reached the output"
        assert secret not in store_text, "a secret reached the state store in clear"
    for key_id in w.keys():  # noqa: SIM118 - World.keys() reads RAM, World is no mapping
        assert key_id not in text  # ids print as ****abcd only


def make_world(root, *, one_per_type: bool):
    """A context manager yielding a seeded :class:`World` under ``root`` (one per test: xdist-safe);
    ``one_per_type`` keeps one sink of each type (the fault matrix's world). On exit, everything the
    world printed, raised and stored is searched for a secret."""
    from contextlib import contextmanager

    @contextmanager
    def opened():
        previous = keyring.core._keyring_backend
        backend = MemoryKeyring()
        keyring.set_keyring(backend)
        try:
            with running_emulator(root) as emu, SinkPlatforms(root, keyring_entry=lambda: KeyStore(backend).get(
                    "local"), one_per_type=one_per_type).serving() as platforms:
                w = World(emu, platforms, FileStateStore(root / ".agentrun" / "state"))
                creds = local_credentials(root)
                for sink in w.rotation().sinks:
                    sink.write(creds.access_key_id.reveal(), creds.access_key_secret)
                assert not w.problems()
                yield w
                no_secret_in(w)
        finally:
            keyring.core._keyring_backend = previous
    return opened()
