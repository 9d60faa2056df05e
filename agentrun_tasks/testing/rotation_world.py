"""Rotation test worlds, one per test: the emulator's RAM/STS, local GitHub, GitLab, Jenkins, Bitbucket,
CircleCI, Yunxiao and KMS servers, an in-memory keyring and the emulator's .env.local, every sink
seeded with the key in use (as a real setup is). Each test gets its own world, so xdist can spread
them; the emulator under it may be the one its worker shares (the ``rotation_emulator`` fixture),
set back first to the account a first start leaves."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import keyring.core
import pytest

from ..adapters.file_store import FileStateStore
from ..adapters.keyring_store import KeyStore
from ..core.credentials import write_dotenv
from ..core.report import Reporter
from ..core.rotation import Options
from ..core.rotation_journal import Journal, journal_key
from ..core.secrets import Secret
from ..emulator.account import BOOTSTRAP_USER, ENV_ACCOUNT, ENV_FILE, ENV_ID, ENV_SECRET, read_credentials
from ..flows.rotation import plan, rotate
from .emulator import RunningEmulator, running_emulator
from .keyring import MemoryKeyring
from .rotation import (
    KillSwitch,
    LocalCredentials,
    SinkPlatforms,
    invariant_problems,
    local_credentials,
    local_ram,
    local_rotation,
    ram_keys,
)

__all__ = ["NEXT_RUN", "World", "converged", "fresh_account", "make_world", "no_secret_in", "rotation_emulator"]

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


@pytest.fixture(scope="session")
def rotation_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """One emulator per xdist worker for rotation worlds (``make_world(..., emulator=...)``), each of
    which sets its account back first: starting one per world was a third of the fault matrix's CPU."""
    with running_emulator(tmp_path_factory.mktemp("rotation-emulator")) as emu:
        yield emu


def fresh_account(emu: RunningEmulator) -> bool:
    """Leave the bootstrap user of ``emu`` one new Active key, and ``.env.local`` holding only it and
    the account id: what the emulator's first start leaves, and all a rotation leaves in it (the
    world's sinks and state store are its own). False if no Active key is left to sign the change with."""
    keys = ram_keys(emu.root, BOOTSTRAP_USER)
    signer = next((key_id for key_id, key in keys.items() if key["status"] == "Active"), None)
    if signer is None:
        return False
    ram = local_ram(emu.root, emu.endpoint, LocalCredentials(Secret(signer), Secret(keys[signer]["secret"])))
    for other in set(keys) - {signer}:
        ram.delete_key(BOOTSTRAP_USER, other)
    key_id, secret = ram.create_key(BOOTSTRAP_USER)
    local_ram(emu.root, emu.endpoint, LocalCredentials(Secret(key_id), secret)).delete_key(BOOTSTRAP_USER, signer)
    _, _, account_id = read_credentials(emu.root)
    (emu.root / ENV_FILE).unlink()
    write_dotenv(emu.root / ENV_FILE, {ENV_ID: key_id, ENV_SECRET: secret, ENV_ACCOUNT: account_id})
    shutil.rmtree(emu.root / ".agentrun" / "state", ignore_errors=True)  # the rotation's journal and lock
    return True


def make_world(root, *, one_per_type: bool, emulator: RunningEmulator | None = None):
    """A context manager yielding a seeded :class:`World` (one per test: xdist-safe): on ``emulator``,
    its account set back by :func:`fresh_account` (else, or if that cannot be done, on an emulator
    of its own under ``root``), with platforms, keyring and state store of its own. ``one_per_type``
    keeps one sink of each type (the fault matrix's world). On exit, everything the world printed,
    raised and stored is searched for a secret."""
    @contextmanager
    def opened():
        previous = keyring.core._keyring_backend
        backend = MemoryKeyring()
        keyring.set_keyring(backend)
        try:
            with ExitStack() as stack:
                emu = emulator if emulator is not None and fresh_account(emulator) else \
                    stack.enter_context(running_emulator(Path(root)))
                platforms = stack.enter_context(SinkPlatforms(emu.root, keyring_entry=lambda: KeyStore(backend).get(
                    "local"), one_per_type=one_per_type).serving())
                w = World(emu, platforms, FileStateStore(emu.root / ".agentrun" / "state"))
                creds = local_credentials(emu.root)
                for sink in w.rotation().sinks:
                    sink.write(creds.access_key_id.reveal(), creds.access_key_secret)
                assert not w.problems()
                yield w
                no_secret_in(w)
        finally:
            keyring.core._keyring_backend = previous
    return opened()
