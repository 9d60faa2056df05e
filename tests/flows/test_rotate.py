"""The rotation flow against the emulator's RAM/STS and local GitHub, GitLab, Jenkins, Bitbucket,
CircleCI, Yunxiao and KMS servers, plus a keyring and the emulator's .env.local: a full rotation, then a
fault matrix (an exception before and after every step, then a rerun) with the invariants checked
after every step, and a sentinel search over everything the runs printed or raised."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import keyring
import keyring.core
import pytest

from agentrun_tasks.adapters.file_store import FileStateStore
from agentrun_tasks.adapters.keyring_store import KeyStore
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.core.rotation import Options
from agentrun_tasks.core.rotation_journal import Journal, journal_key
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.emulator.account import BOOTSTRAP_USER
from agentrun_tasks.flows.rotate import plan, rotate
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.keyring import MemoryKeyring
from agentrun_tasks.testing.rotation import (
    LocalCredentials,
    SinkPlatforms,
    invariant_problems,
    local_credentials,
    local_ram,
    local_rotation,
    ram_keys,
)

STEPS = ("create", "verify", "write#1", "write#13", "written", "deactivate", "delete")


class Injected(Exception):
    """The fault the matrix injects."""


@dataclass
class World:
    emu: object
    platforms: SinkPlatforms
    store: FileStateStore
    output: io.StringIO = field(default_factory=io.StringIO)
    errors: list[str] = field(default_factory=list)
    secrets_seen: set[str] = field(default_factory=set)
    ids_seen: set[str] = field(default_factory=set)
    checks: int = 0

    def journal(self) -> Journal | None:
        raw = self.store.get(journal_key(BOOTSTRAP_USER))
        return Journal.from_json(raw) if raw else None

    def problems(self) -> list[str]:
        for key_id, key in ram_keys(self.emu.root, BOOTSTRAP_USER).items():
            self.ids_seen.add(key_id)
            self.secrets_seen.add(key["secret"])
        self.checks += 1
        return invariant_problems(self.emu.root, BOOTSTRAP_USER, self.platforms.held(), self.journal())

    def run(self, *, fault=None, options=None, dry=False, verify_timeout=5.0):
        def observe(step, journal):
            assert not self.problems(), (step, self.problems())

        run = local_rotation(self.emu.root, self.emu.endpoint, self.platforms, self.store,
                             Reporter(out=self.output, err=self.output, interactive=False), options=options or Options(),
                             verify_timeout=verify_timeout, fault=fault or (lambda kind, when: None), observe=observe)
        return plan(run) if dry else rotate(run)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("rotation")
    previous = keyring.core._keyring_backend
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        with running_emulator(root) as emu, \
                SinkPlatforms(root, keyring_entry=lambda: KeyStore(backend).get("local")).serving() as platforms:
            w = World(emu, platforms, FileStateStore(root / ".agentrun" / "state"))
            # Every sink starts out holding the key in use, as a real setup does.
            creds = local_credentials(root)
            for sink in local_rotation(root, emu.endpoint, platforms, w.store, None).sinks:
                sink.write(creds.access_key_id.reveal(), creds.access_key_secret)
            assert not w.problems()
            yield w
    finally:
        keyring.core._keyring_backend = previous


def assert_converged(w: World) -> str:
    """One active key, held by every sink and accepted by STS; the other (if any) inactive."""
    keys = ram_keys(w.emu.root, BOOTSTRAP_USER)
    active = [k for k, v in keys.items() if v["status"] == "Active"]
    assert len(active) == 1 and len(keys) <= 2, keys
    assert {key_id for key_id, _ in w.platforms.held().values()} == set(active)
    assert w.journal().phase == "deactivated" and w.journal().new_id == active[0]
    creds = local_credentials(w.emu.root)
    local_ram(w.emu.root, w.emu.endpoint).verify(creds.access_key_id.reveal(), creds.access_key_secret, timeout=5)
    assert not w.problems()
    return active[0]


def test_dry_run_then_a_full_rotation_then_the_next_run_deletes_the_old_key(world):
    def statuses():
        return {k: v["status"] for k, v in ram_keys(world.emu.root, BOOTSTRAP_USER).items()}

    before, held = statuses(), world.platforms.held()
    planned = world.run(dry=True)
    assert planned.result == "planned" and statuses() == before and world.platforms.held() == held
    assert [s.split(":")[0] for s in planned.steps][:3] == ["create a new key", "verify key <new key> with STS "
                                                           "GetCallerIdentity", "write key <new key> to dotenv"]
    (old_id,) = before
    outcome = world.run()
    assert outcome.result == "rotated" and outcome.old_key == f"****{old_id[-4:]}"
    assert all(ok is not False for ok in outcome.read_back.values())
    assert outcome.read_back["dotenv:.env.local"] is True and outcome.read_back["kms:agentrun/local"] is True
    new_id = assert_converged(world)
    assert ram_keys(world.emu.root, BOOTSTRAP_USER)[old_id]["status"] == "Inactive"
    # The old key is refused by STS now.
    from agentrun_tasks.core.errors import CredentialError
    old = LocalCredentials(Secret(old_id), Secret(held["dotenv"][1]))
    with pytest.raises(CredentialError):
        local_ram(world.emu.root, world.emu.endpoint, old).verify(old_id, old.access_key_secret, timeout=0.1)
    # The next run (a weekly schedule with --min-age) deletes the old key and rotates nothing.
    again = world.run(options=Options(min_age=90 * 86400))
    assert again.result == "nothing-to-do" and "younger than --min-age" in again.message
    assert list(ram_keys(world.emu.root, BOOTSTRAP_USER)) == [new_id]


def test_fault_matrix_every_step_fails_then_a_rerun_converges(world):
    tried = converged = 0
    for step in STEPS:
        kind, _, nth = step.partition("#")
        for when in ("before", "after"):
            seen = {"n": 0}

            def fault(k, w, kind=kind, when=when, nth=int(nth or 1), seen=seen):
                if (k, w) == (kind, when):
                    seen["n"] += 1
                    if seen["n"] == nth:
                        raise Injected(f"injected {kind} {when}")

            tried += 1
            try:
                world.run(fault=fault)
            except Injected as exc:
                world.errors.append(str(exc))
            else:
                pytest.fail(f"the fault {step} {when} never fired")
            assert not world.problems(), (step, when, world.problems())
            outcome = world.run()
            world.errors.append(outcome.message)
            assert_converged(world)
            converged += 1
    print(f"\nfault matrix (in-process exceptions): {len(STEPS)} steps x 2 points = {tried} tried, "
          f"{converged} converged, {world.checks} invariant checks")
    assert tried == converged == 2 * len(STEPS)


def test_a_new_key_that_never_works_is_deleted_and_the_old_one_kept(world):
    from agentrun_tasks.core.errors import CredentialError

    def break_the_new_key(kind, when):
        if (kind, when) == ("verify", "before"):  # as if RAM never accepted it
            local_ram(world.emu.root, world.emu.endpoint).set_status(BOOTSTRAP_USER, world.journal().new_id,
                                                                      "Inactive")

    held = world.platforms.held()
    with pytest.raises(CredentialError, match="was deleted; the old key stays in use") as failed:
        world.run(fault=break_the_new_key, verify_timeout=1.0)
    world.errors.append(str(failed.value))
    (in_use,) = {key_id for key_id, _ in held.values()}
    assert ram_keys(world.emu.root, BOOTSTRAP_USER).keys() == {in_use} and world.platforms.held() == held
    assert world.journal().phase == "done" and not world.problems()


def test_the_grace_period_keeps_the_old_key_active_then_deactivates_it(world):
    outcome = world.run(options=Options(grace=1.0))
    assert any(step.startswith("wait until") for step in outcome.steps)
    assert outcome.steps[-1].startswith("deactivate")
    assert_converged(world)


def test_an_unknown_second_key_stops_the_run_unless_force(world):
    from agentrun_tasks.core.errors import ConfigError

    world.run(options=Options(min_age=90 * 86400))  # the previous old key goes; nothing rotates
    stranger, secret = local_ram(world.emu.root, world.emu.endpoint).create_key(BOOTSTRAP_USER)
    world.ids_seen.add(stranger)
    world.secrets_seen.add(secret.reveal())
    before = ram_keys(world.emu.root, BOOTSTRAP_USER).keys()
    with pytest.raises(ConfigError, match="--force") as refused:
        world.run()
    world.errors.append(str(refused.value))
    assert ram_keys(world.emu.root, BOOTSTRAP_USER).keys() == before and stranger not in str(refused.value)
    outcome = world.run(options=Options(force=True))
    assert outcome.result == "rotated" and stranger not in ram_keys(world.emu.root, BOOTSTRAP_USER)
    assert_converged(world)


def test_one_rotation_per_user_at_a_time(world):
    from datetime import datetime, timezone

    from agentrun_tasks.core import lock
    from agentrun_tasks.core.errors import BusyError

    now = datetime.now(timezone.utc)
    other = lock.Lock.new("ci@elsewhere", f"rotate-{BOOTSTRAP_USER}", None, ttl=600, now=now, host="elsewhere", pid=1)
    key = f"locks/rotate-{BOOTSTRAP_USER}.json"
    assert world.store.create(key, other.to_json())
    try:
        with pytest.raises(BusyError, match="ci@elsewhere"):
            world.run()
    finally:
        world.store.delete(key)


def test_nothing_secret_in_any_output(world):
    text = world.output.getvalue() + "\n".join(world.errors)
    store_text = "".join((world.store.get(k) or b"").decode(errors="replace") for k in world.store.list(""))
    assert world.secrets_seen and world.ids_seen
    tokens = {v for k, v in world.platforms.environ().items() if k != "JENKINS_USER"}
    for secret in world.secrets_seen | tokens:
        assert secret not in text and secret[4:-4] not in text, "a secret reached the output"
        assert secret not in store_text, "a secret reached the state store in clear"
    for key_id in world.ids_seen:
        assert key_id not in text  # ids print as ****abcd only
