"""core.lock decisions over an in-memory store with the same create-if-absent contract as OSS."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agentrun_tasks.core.errors import BusyError, ConfigError
from agentrun_tasks.core.lock import Lock, acquire, is_stale, refresh, release

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
KEY = "locks/prod.json"


class DictStore:
    """create() is atomic here trivially (one thread); the real store's atomicity is tested on OSS."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def create(self, key: str, data: bytes) -> bool:
        return self.objects.setdefault(key, data) is data

    def put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


def lock(owner: str, candidate: str = "3", *, ttl: float = 900, now: datetime = NOW, ci_run=None) -> Lock:
    return Lock.new(owner, "prod", candidate, ttl=ttl, now=now, ci_run=ci_run)


def test_json_round_trip_keeps_every_field():
    original = lock("alice@laptop", ci_run="https://ci.example/run/9")
    assert Lock.from_json(original.to_json()) == original


def test_corrupt_lock_object_is_a_config_error_that_says_how_to_recover():
    with pytest.raises(ConfigError, match="--force"):
        Lock.from_json(b"{not json")


@pytest.mark.parametrize("raw", [b"", b"{not json", b'{"owner": "x"}'], ids=["empty", "not-json", "no-fields"])
def test_force_replaces_a_corrupt_lock_object(raw):
    store = DictStore()
    store.objects[KEY] = raw  # e.g. a run killed between the exclusive create and its write
    mine = acquire(store, KEY, lock("breaker"), force=True, now=NOW)
    assert Lock.from_json(store.get(KEY)) == mine


def test_without_force_a_corrupt_lock_is_read_again_then_refused_with_the_way_out():
    store = DictStore()
    store.objects[KEY] = b""
    with pytest.raises(ConfigError, match="--force"):
        acquire(store, KEY, lock("someone"), force=False, now=NOW)
    assert store.get(KEY) == b""  # not ours to delete without --force


class MidWriteStore(DictStore):
    """The holder's create has happened but its write lands only after our first read."""

    def __init__(self, holder: Lock) -> None:
        super().__init__()
        self.objects[KEY] = b""
        self.holder = holder

    def get(self, key: str) -> bytes | None:
        raw = super().get(key)
        self.objects[KEY] = self.holder.to_json()
        return raw


def test_a_lock_read_while_its_holder_writes_it_is_read_again_and_reported_busy():
    holder = lock("writer", ci_run="run 5")
    with pytest.raises(BusyError, match="writer"):
        acquire(MidWriteStore(holder), KEY, lock("someone", "4"), force=False, now=NOW)


@pytest.mark.parametrize(("offset", "stale"), [(-1, False), (0, True), (1, True)], ids=["before", "at", "after"])
def test_is_stale_at_expiry(offset, stale):
    held = lock("a", ttl=60)
    assert is_stale(held, held.expires_at + timedelta(seconds=offset)) is stale


def test_second_owner_is_refused_with_who_since_when_and_how_to_break():
    store = DictStore()
    first = acquire(store, KEY, lock("ci-runner-1", ci_run="run 41"), force=False, now=NOW)
    with pytest.raises(BusyError) as err:
        acquire(store, KEY, lock("ci-runner-2", "4"), force=False, now=NOW + timedelta(minutes=5))
    message = str(err.value)
    assert err.value.exit_code == 7
    for part in ("ci-runner-1", "run 41", "version 3", first.acquired_at.isoformat(timespec="seconds"),
                 first.expires_at.isoformat(timespec="seconds"), "in 10 min", "--force"):
        assert part in message
    assert Lock.from_json(store.get(KEY)) == first


def test_stale_lock_is_broken_without_force():
    store = DictStore()
    acquire(store, KEY, lock("crashed-run", ttl=60), force=False, now=NOW)
    later = NOW + timedelta(minutes=2)
    mine = acquire(store, KEY, lock("next-run", "4", now=later), force=False, now=later)
    assert Lock.from_json(store.get(KEY)) == mine


def test_force_breaks_a_live_lock():
    store = DictStore()
    acquire(store, KEY, lock("holder"), force=False, now=NOW)
    mine = acquire(store, KEY, lock("breaker", "4"), force=True, now=NOW)
    assert Lock.from_json(store.get(KEY)).owner == "breaker"
    assert mine.owner == "breaker"


def test_a_rerun_of_the_same_ci_run_takes_over_but_another_candidate_does_not():
    store = DictStore()
    acquire(store, KEY, lock("ci", "3", ci_run="run/42"), force=False, now=NOW)
    with pytest.raises(BusyError):
        acquire(store, KEY, lock("ci", "4", ci_run="run/42"), force=False, now=NOW)
    rerun = acquire(store, KEY, lock("ci", "3", ci_run="run/42"), force=False, now=NOW)
    assert Lock.from_json(store.get(KEY)).token == rerun.token


def test_a_concurrent_release_of_the_same_candidate_without_a_ci_run_is_refused():
    store = DictStore()
    acquire(store, KEY, lock("alice@laptop", "3"), force=False, now=NOW)
    with pytest.raises(BusyError):
        acquire(store, KEY, lock("alice@laptop", "3"), force=False, now=NOW)


def test_a_holder_known_to_be_dead_is_replaced_before_its_ttl():
    store = DictStore()
    acquire(store, KEY, Lock.new("alice", "prod", "3", ttl=900, now=NOW, host="laptop", pid=4242),
            force=False, now=NOW)
    rerun = acquire(store, KEY, lock("alice", "3"), force=False, now=NOW,
                    dead=lambda holder: holder.host == "laptop" and holder.pid == 4242)
    assert Lock.from_json(store.get(KEY)).token == rerun.token


def test_a_holder_is_broken_once_even_when_two_runs_race_to_break_it():
    store = DictStore()
    stale = acquire(store, KEY, lock("crashed", ttl=1), force=False, now=NOW)
    later = NOW + timedelta(minutes=1)
    # Runner B read the stale holder and is about to break it; runner A breaks it first.
    a = acquire(store, KEY, lock("runner-a", now=later), force=False, now=later)
    marker = f"{KEY}.broken/{stale.token}"
    assert marker in store.objects  # B's break of the same holder must now lose...
    assert not store.create(marker, b"runner-b")
    with pytest.raises(BusyError, match="runner-a"):  # ...and B meets A's fresh lock
        acquire(store, KEY, lock("runner-b", now=later), force=False, now=later)
    assert Lock.from_json(store.get(KEY)) == a


def test_refresh_keeps_a_long_run_from_looking_stale():
    store = DictStore()
    held = acquire(store, KEY, lock("long-run", ttl=600), force=False, now=NOW)
    later = NOW + timedelta(minutes=9)
    renewed = refresh(store, KEY, held, ttl=600, now=later)
    assert renewed is not None
    assert renewed.token == held.token
    assert renewed.acquired_at == held.acquired_at
    assert renewed.expires_at == later + timedelta(seconds=600)
    assert Lock.from_json(store.get(KEY)) == renewed
    past_first_ttl = NOW + timedelta(minutes=11)  # would have been stale without the refresh
    with pytest.raises(BusyError, match="long-run"):
        acquire(store, KEY, lock("next", "4", now=past_first_ttl), force=False, now=past_first_ttl)


def test_refresh_of_a_broken_lock_leaves_the_new_holder_alone():
    store = DictStore()
    held = acquire(store, KEY, lock("old"), force=False, now=NOW)
    breaker = acquire(store, KEY, lock("breaker", "4"), force=True, now=NOW)
    assert refresh(store, KEY, held, ttl=600, now=NOW + timedelta(minutes=1)) is None
    assert Lock.from_json(store.get(KEY)) == breaker
    store.delete(KEY)
    assert refresh(store, KEY, breaker, ttl=600, now=NOW) is None
    assert store.get(KEY) is None


def test_release_deletes_only_the_holders_lock():
    store = DictStore()
    held = acquire(store, KEY, lock("owner"), force=False, now=NOW)
    assert release(store, KEY, lock("someone-else")) is False
    assert store.get(KEY) is not None
    assert release(store, KEY, held) is True
    assert store.get(KEY) is None
    assert release(store, KEY, held) is False


def test_release_leaves_a_lock_the_same_owner_took_again_after_it_was_broken():
    store = DictStore()
    first = acquire(store, KEY, lock("ci@runner"), force=False, now=NOW)
    second = acquire(store, KEY, lock("ci@runner"), force=True, now=NOW)  # the same owner, a new run
    assert release(store, KEY, first) is False
    assert Lock.from_json(store.get(KEY)) == second


def test_the_busy_message_says_a_live_holder_renews_when_a_dead_ones_lock_expires_and_how_to_take_it():
    store = DictStore()
    first = acquire(store, KEY, lock("ci-runner-1", ttl=180), force=False, now=NOW)
    with pytest.raises(BusyError) as err:
        acquire(store, KEY, lock("laptop"), force=False, now=NOW + timedelta(seconds=30))
    message = str(err.value)
    assert "renewing" in message
    assert first.expires_at.isoformat(timespec="seconds") in message
    assert "in 2 min 30 s" in message
    assert "--force to take the lock over now" in message
