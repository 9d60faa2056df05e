import os
import stat
from datetime import datetime, timezone

import pytest

from agentrun_tasks.adapters.file_store import FileStateStore
from agentrun_tasks.core import lock
from agentrun_tasks.core.errors import BusyError
from agentrun_tasks.core.fileio import write_atomic
from agentrun_tasks.testing.keyring import FileKeyring

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)


def test_create_is_exclusive_and_private(tmp_path):
    store = FileStateStore(tmp_path / "state")
    assert store.create("locks/prod.json", b"a") is True
    assert store.create("locks/prod.json", b"b") is False
    assert store.get("locks/prod.json") == b"a"
    assert (tmp_path / "state" / "locks" / "prod.json").stat().st_mode & 0o077 == 0


def test_put_get_list_delete(tmp_path):
    store = FileStateStore(tmp_path)
    store.put("history/prod/2.json", b"2")
    store.put("history/prod/1.json", b"1")
    store.put("history/dev/1.json", b"x")
    assert store.list("history/prod/") == ["history/prod/1.json", "history/prod/2.json"]
    store.delete("history/prod/1.json")
    store.delete("history/prod/1.json")  # deleting a missing key is fine
    assert store.get("history/prod/1.json") is None


def test_keys_cannot_leave_the_folder(tmp_path):
    with pytest.raises(ValueError, match="leaves the store"):
        FileStateStore(tmp_path / "state").put("../escape", b"x")


def test_two_runs_contend_for_the_environment_lock(tmp_path):
    store = FileStateStore(tmp_path)
    first = lock.Lock.new("alice@laptop", "prod", "3", ttl=600, now=NOW)
    lock.acquire(store, "locks/prod.json", first, force=False, now=NOW)
    with pytest.raises(BusyError, match="locked by alice@laptop"):
        lock.acquire(store, "locks/prod.json", lock.Lock.new("bob@ci", "prod", "4", ttl=600, now=NOW),
                     force=False, now=NOW)
    assert lock.release(store, "locks/prod.json", first)


# -- write_atomic (core.fileio), shared by the store, the .env writer, the emulator, the test keyring


def test_put_that_fails_leaves_the_old_value_and_no_temporary_file(tmp_path):
    store = FileStateStore(tmp_path)
    store.put("history/prod/1.json", b"old")
    with pytest.raises(TypeError):
        store.put("history/prod/1.json", "not bytes")  # type: ignore[arg-type]
    assert store.get("history/prod/1.json") == b"old"
    assert os.listdir(tmp_path / "history" / "prod") == ["1.json"]


def test_write_atomic_sets_the_mode_whatever_the_umask_and_replaces_whole(tmp_path):
    path = tmp_path / "f.json"
    path.write_bytes(b"old content, longer than the new")
    path.chmod(0o644)
    old = os.umask(0)
    try:
        write_atomic(path, b"new")
        write_atomic(tmp_path / "public.txt", b"x", mode=0o644)
    finally:
        os.umask(old)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "public.txt").stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["f.json", "public.txt"]


def test_file_keyring_keeps_its_entries_when_a_write_fails(tmp_path):
    keyring = FileKeyring(tmp_path)
    keyring.set_password("svc", "dev", "FAKEsecret")
    with pytest.raises(TypeError):
        keyring.set_password("svc", "prod", object())  # not JSON: fails while writing
    assert FileKeyring(tmp_path).get_password("svc", "dev") == "FAKEsecret"
    assert stat.S_IMODE((tmp_path / "keyring.json").stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["keyring.json"]
