"""flows.records.Records over the local state store (the same contract as the OSS one)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from agentrun_tasks.adapters.file_store import FileStateStore
from agentrun_tasks.core import lock
from agentrun_tasks.core.cienv import CIContext
from agentrun_tasks.core.errors import BusyError, ConfigError
from agentrun_tasks.flows.records import Records

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
CI = CIContext(platform="github", is_ci=True, actor="ci-bot", sha="0123456789abcdef",
               run_url="https://ci.example/run/7")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def records(store, clock, ci=CI) -> Records:
    return Records(store, "prod", ci, now=clock)


def test_refresh_keeps_the_lock_of_a_release_longer_than_its_ttl(tmp_path):
    store, clock = FileStateStore(tmp_path), Clock()
    mine = records(store, clock)
    mine.acquire("2", ttl=600, force=False)
    for _ in range(5):  # a release of 5 x 9 minutes with a 10-minute TTL
        clock.now += timedelta(minutes=9)
        assert mine.refresh() is True
    held = lock.Lock.from_json(store.get(mine.lock_key))
    assert held.expires_at == clock.now + timedelta(seconds=600)
    assert held.acquired_at == T0
    other = records(store, clock, CIContext(platform="local", is_ci=False, actor="bob"))
    with pytest.raises(BusyError):
        other.acquire("3", ttl=600, force=False)
    mine.release()
    assert store.get(mine.lock_key) is None


def test_refresh_after_the_lock_was_broken_says_so_and_leaves_the_new_holder(tmp_path):
    store, clock = FileStateStore(tmp_path), Clock()
    mine = records(store, clock)
    mine.acquire("2", ttl=600, force=False)
    breaker = records(store, clock, CIContext(platform="local", is_ci=False, actor="bob"))
    breaker.acquire("3", ttl=600, force=True)
    taken = store.get(mine.lock_key)
    assert mine.refresh() is False
    mine.release()
    assert store.get(mine.lock_key) == taken


def test_a_release_record_is_saved_running_and_finished_under_the_same_key(tmp_path):
    store, clock = FileStateStore(tmp_path), Clock()
    mine = records(store, clock)
    entry = mine.start("release", from_version="1", to_version=None, started_at=T0)
    (saved,) = mine.history()
    assert (saved.result, saved.finished_at, saved.from_version, saved.actor, saved.commit) == (
        "running", None, "1", "ci-bot", "0123456789abcdef")
    entry = mine.update(entry, to_version="2")
    clock.now += timedelta(minutes=3)
    mine.finish(entry, result="ok", reason="promoted", analysis=[{"weight": 0.5}])
    (done,) = mine.history()
    assert (done.id, done.from_version, done.to_version, done.result, done.reason, done.analysis) == (
        entry.id, "1", "2", "ok", "promoted", [{"weight": 0.5}])
    assert done.finished_at == clock.now
    assert done.started_at == T0
    other = mine.start("release", from_version="2", to_version="3", started_at=clock.now)
    mine.discard(other)
    assert mine.history() == [done]


def test_a_live_holder_keeps_a_short_lock_alive_and_a_dead_ones_expires_within_its_ttl(tmp_path):
    store = FileStateStore(tmp_path)
    real = lambda: datetime.now(timezone.utc)  # noqa: E731 - the keep-alive thread runs on real time
    mine = Records(store, "prod", CI, now=real)
    mine.acquire("2", ttl=0.6, force=False)
    other = Records(store, "prod", CIContext(platform="local", is_ci=False, actor="bob"), now=real)
    try:
        time.sleep(1.5)  # more than twice the TTL: only the holder's own refreshing keeps it
        with pytest.raises(BusyError):
            other.acquire("3", ttl=0.6, force=False)
    finally:
        mine.release()
    other.acquire("3", ttl=0.6, force=False)  # released: free at once
    other._stop_keepalive.set()  # as if its process died: no more refreshes, no release
    time.sleep(0.8)
    third = Records(store, "prod", CIContext(platform="local", is_ci=False, actor="carol"), now=real)
    third.acquire("4", ttl=60, force=False)  # the dead holder's lock expired after its TTL
    third.release()


def test_taking_the_lock_closes_the_records_a_killed_run_left_running(tmp_path):
    store, clock = FileStateStore(tmp_path), Clock()
    killed = records(store, clock)
    killed.acquire("2", ttl=600, force=False)
    left = killed.start("release", from_version="1", to_version="2", started_at=T0)
    done = killed.record("rollback", from_version="2", to_version="1", result="ok", started_at=T0)
    clock.now += timedelta(minutes=11)  # its lock expired: the process is gone
    rerun = records(store, clock, CIContext(platform="local", is_ci=False, actor="bob"))
    rerun.acquire("2", ttl=600, force=False)
    rerun.release()
    closed = {entry.id: entry for entry in rerun.history()}
    assert closed[left.id].result == "interrupted"
    assert closed[left.id].finished_at == clock.now
    assert "killed" in closed[left.id].reason
    assert (closed[left.id].from_version, closed[left.id].to_version) == (
        "1", "2")
    assert closed[done.id] == done


def test_failure_marks_of_one_runtime_never_match_another(tmp_path):
    store, clock = FileStateStore(tmp_path), Clock()
    mine = records(store, clock)
    mine.mark_failed("rt-old/0123456789abcdef", "rolled back")
    with pytest.raises(ConfigError, match="version 2 failed a release"):
        mine.check_not_failed("2", "rt-old/0123456789abcdef", force=False)
    mine.check_not_failed("2", "rt-new/0123456789abcdef", force=False)  # same code, a new runtime: no mark


def test_the_default_lock_ttl_frees_a_dead_holders_environment_within_a_few_minutes():
    from agentrun_tasks.core.model import ReleaseConfig

    assert ReleaseConfig().lock_ttl <= 300


def test_versions_published_while_the_runtime_changed_are_remembered_per_runtime(tmp_path):
    mine = records(FileStateStore(tmp_path), Clock())
    assert mine.unproven("rt-1") == frozenset()
    mine.mark_unproven("rt-1", "3", "runtime changed while version 3 was published")
    mine.mark_unproven("rt-1", "12", "runtime changed while version 12 was published")
    assert mine.unproven("rt-1") == {"3", "12"}
    assert mine.unproven("rt-2") == frozenset()
