from datetime import datetime, timezone

import pytest

from agentrun_tasks.core import lock
from agentrun_tasks.core.errors import BusyError
from agentrun_tasks.filestore import FileStateStore

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
    with pytest.raises(ValueError):
        FileStateStore(tmp_path / "state").put("../escape", b"x")


def test_two_runs_contend_for_the_environment_lock(tmp_path):
    store = FileStateStore(tmp_path)
    first = lock.Lock.new("alice@laptop", "prod", "3", ttl=600, now=NOW)
    lock.acquire(store, "locks/prod.json", first, force=False, now=NOW)
    with pytest.raises(BusyError, match="locked by alice@laptop"):
        lock.acquire(store, "locks/prod.json", lock.Lock.new("bob@ci", "prod", "4", ttl=600, now=NOW),
                     force=False, now=NOW)
    assert lock.release(store, "locks/prod.json", "alice@laptop")
