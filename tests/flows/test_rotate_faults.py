"""The rotation killed at every write, deterministically: a :class:`KillSwitch` stops the run right
before its n-th write (RAM CreateAccessKey/UpdateAccessKey/DeleteAccessKey, each sink's one writing
request, each journal write), which is also right after write n-1; then the invariants are checked,
the rotation is rerun (as the next scheduled run would), and they are checked again with the
rotation converged. One world per case (every platform, and the account of the emulator its
worker shares set back to a first start's), so xdist spreads them.
Then the operator's cases: a key rotated or deleted by hand between runs, a journal edited or
corrupted."""

from __future__ import annotations

import json

import pytest

from agentrun_tasks.core.credentials import write_dotenv
from agentrun_tasks.core.errors import ConfigError, CredentialError, ResourceFailedError
from agentrun_tasks.core.rotation import Options
from agentrun_tasks.core.rotation_journal import journal_key
from agentrun_tasks.emulator.account import BOOTSTRAP_USER, ENV_ID, ENV_SECRET
from agentrun_tasks.testing.rotation import UNPROVEN, Killed, KillSwitch, local_ram
from agentrun_tasks.testing.rotation_world import NEXT_RUN, converged, make_world


@pytest.fixture
def small_world(tmp_path, rotation_emulator):
    with make_world(tmp_path, one_per_type=True, emulator=rotation_emulator) as w:
        yield w


# What a rotation of the one-sink-per-type world writes, in order (the trace test keeps it true).
WRITES = (
    "journal creating", "ram CreateAccessKey", "journal created", "journal verified",
    *[w for sink in ("dotenv", "github", "gitlab", "jenkins", "bitbucket", "circleci", "yunxiao", "kms", "keyring")
      for w in ("journal touch", f"sink {sink}", "journal written")],
    "journal written", "ram UpdateAccessKey Inactive", "journal deactivated",
    # the next run: the old key's soak is over
    "ram DeleteAccessKey", "journal done",
)
GAPS = [f"after {WRITES[i - 1] if i else 'nothing'} | before {WRITES[i] if i < len(WRITES) else 'nothing'}"
        for i in range(len(WRITES) + 1)]
KILLED_INSIDE_CREATE = WRITES.index("ram CreateAccessKey") + 1  # the key exists, its id not yet journalled


def label(write: str) -> str:
    """A trace label made stable: sinks by type, the journal's verified writes by what they add."""
    if write.startswith("sink "):
        return "sink " + write.split()[1].split(":")[0]
    return write


def whole_schedule(w, switch: KillSwitch | None = None) -> None:
    w.run(switch=switch)
    w.run(switch=switch, options=NEXT_RUN)


def test_the_trace_of_a_rotation_is_the_matrix_rows(small_world):
    switch = KillSwitch()
    whole_schedule(small_world, switch)
    traced = []
    for write in map(label, switch.writes):
        if write.startswith("journal verified touched"):  # it says what it adds: a sink touched or written
            _, _, _, touched, _, written = write.split()
            write = "journal verified" if touched == "0" else "journal touch" if touched != written else \
                "journal written"
        traced.append(write)
    assert traced == list(WRITES)
    converged(small_world)


@pytest.mark.parametrize("at", range(len(GAPS)), ids=GAPS)
def test_killed_at_every_write_then_rerun(small_world, at):
    w = small_world
    switch = KillSwitch(at) if at < len(WRITES) else KillSwitch(after=len(WRITES) - 1)
    with pytest.raises(Killed):
        whole_schedule(w, switch)
    problems = w.problems()
    if at == KILLED_INSIDE_CREATE:  # the only state the journal cannot explain, and it says so
        assert problems == [UNPROVEN]
        assert w.env_key_works()
        with pytest.raises(ConfigError, match=r"left alone.*--force"):
            w.run(options=NEXT_RUN)
        assert w.problems() == [UNPROVEN]  # the refusal changed nothing
        w.run(options=Options(min_age=NEXT_RUN.min_age, force=True))  # what the message tells the operator
    else:
        assert problems == [], problems
        assert w.env_key_works()
        w.run(options=NEXT_RUN)
    w.run(options=NEXT_RUN)  # the soak of the old key is over on the run after
    converged(w)


# -- the operator's cases ----------------------------------------------------------------------

def hand_rotate(w) -> str:
    """What an operator does by hand: a new key in RAM, written into .env.local (nowhere else)."""
    key_id, secret = local_ram(w.emu.root, w.emu.endpoint).create_key(BOOTSTRAP_USER)
    write_dotenv(w.emu.root / ".env.local", {ENV_ID: key_id, ENV_SECRET: secret})
    w.secrets_seen.add(secret.reveal())
    return key_id


def test_killed_before_create_then_rotated_by_hand_then_rerun_keeps_the_hand_made_key(small_world):
    w = small_world
    (old,) = w.keys()
    with pytest.raises(Killed):
        w.run(switch=KillSwitch(WRITES.index("ram CreateAccessKey")))
    assert w.journal().phase == "creating"
    assert w.journal().new_id is None
    mine = hand_rotate(w)
    with pytest.raises(ConfigError, match="left alone") as stopped:
        w.run()
    assert "drop the interrupted rotation" in w.output.getvalue()
    assert "Traceback" not in str(stopped.value)
    keys = w.keys()
    assert set(keys) == {old, mine}
    assert all(k["status"] == "Active" for k in keys.values())
    assert w.env_key_works()
    assert not w.problems()
    # Once the operator retires the old key, the next run rotates the hand-made one normally.
    local_ram(w.emu.root, w.emu.endpoint).delete_key(BOOTSTRAP_USER, old)
    assert w.run().result == "rotated"
    assert mine in w.keys()  # noqa: SIM118 - reads RAM
    assert w.keys()[mine]["status"] == "Inactive"


def test_an_edited_journal_never_deletes_a_key(small_world):
    w = small_world
    (old,) = w.keys()
    w.store.put(journal_key(BOOTSTRAP_USER), json.dumps({"user": BOOTSTRAP_USER, "phase": "creating",
                                                         "new_id": None}).encode())
    mine = hand_rotate(w)
    with pytest.raises(ConfigError, match="left alone"):
        w.run()
    assert set(w.keys()) == {old, mine}
    assert w.env_key_works()


@pytest.mark.parametrize(("content", "says"), [
    (b"{not json", "not valid"),
    (json.dumps({"user": "admin", "phase": "verified", "old_id": "LTAIx", "new_id": "LTAIy"}).encode(),
     "names the user 'admin'"),
], ids=["corrupted", "another-user"])
def test_a_corrupted_or_foreign_journal_stops_with_exit_2_and_changes_nothing(small_world, content, says):
    w = small_world
    def statuses():
        return {key_id: k["status"] for key_id, k in w.keys().items()}

    before, held = statuses(), w.platforms.held()
    w.store.put(journal_key(BOOTSTRAP_USER), content)
    with pytest.raises(ConfigError, match=says) as stopped:
        w.run()
    assert stopped.value.exit_code == 2
    assert statuses() == before
    assert w.platforms.held() == held


def test_a_journal_naming_an_unknown_new_key_after_sinks_had_it_is_a_platform_error(small_world):
    w = small_world
    (old,) = w.keys()
    journal = {"user": BOOTSTRAP_USER, "phase": "written", "old_id": old, "new_id": "LTAIFAKEnotinram0001",
               "written": [], "touched": ["dotenv:.env.local"]}
    w.store.put(journal_key(BOOTSTRAP_USER), json.dumps(journal).encode())
    with pytest.raises(ResourceFailedError, match="gone from RAM") as stopped:
        w.run()
    assert stopped.value.exit_code == 5
    assert set(w.keys()) == {old}


def test_the_new_key_deleted_by_hand_before_any_sink_had_it_starts_over(small_world):
    w = small_world
    (old,) = w.keys()
    with pytest.raises(Killed):
        w.run(switch=KillSwitch(WRITES.index("sink dotenv")))
    local_ram(w.emu.root, w.emu.endpoint).delete_key(BOOTSTRAP_USER, w.journal().new_id)
    assert set(w.keys()) == {old}
    assert not w.problems()
    w.run(options=NEXT_RUN)
    w.run(options=NEXT_RUN)
    assert old not in converged(w)


def test_the_old_key_deleted_by_hand_mid_rotation_the_rotation_finishes(small_world):
    w = small_world
    (old,) = w.keys()
    with pytest.raises(Killed):
        w.run(switch=KillSwitch(WRITES.index("sink github")))  # .env.local has the new key
    local_ram(w.emu.root, w.emu.endpoint).delete_key(BOOTSTRAP_USER, old)
    w.run(options=NEXT_RUN)
    assert old not in converged(w)


def test_the_old_key_deleted_by_hand_after_deactivation_finishes_cleanly(small_world):
    w = small_world
    (old,) = w.keys()
    w.run()
    local_ram(w.emu.root, w.emu.endpoint).delete_key(BOOTSTRAP_USER, old)
    w.run(options=NEXT_RUN)
    converged(w)


def test_a_key_that_never_works_is_deleted_with_the_old_one_kept(small_world):
    w = small_world

    def break_the_new_key(kind, when):
        if (kind, when) == ("verify", "before"):  # as if RAM never accepted it
            local_ram(w.emu.root, w.emu.endpoint).set_status(BOOTSTRAP_USER, w.journal().new_id, "Inactive")

    held = w.platforms.held()
    with pytest.raises(CredentialError, match="was deleted; the old key stays in use"):
        w.run(fault=break_the_new_key, verify_timeout=1.0)
    assert w.platforms.held() == held
    assert len(w.keys()) == 1
    assert w.journal().phase == "done"
    assert not w.problems()
