"""The environment lock: who holds it, until when, and the decisions of taking and breaking it.

A lock is one JSON object in the state store, created with "create only if absent" (OSS
``x-oss-forbid-overwrite``), so exactly one run wins. Every lock has an expiry (TTL plus owner,
the answer to stale deploy locks after a crash): an expired lock, or any lock under ``--force``,
may be broken. A long run keeps its lock alive with :func:`refresh`, so the TTL is the time
since the holder was last seen alive, not a bound on the whole run. Breaking is itself a race,
so the breaker first creates a marker named after the holder's token; only the run that
creates it deletes the old lock, so two runs breaking the same stale lock never both win. (OSS
deletes are unconditional: a holder that releases and is replaced in the instant between the
breaker's re-read and its delete is the one window left.) The store does all I/O; this module
only decides.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Protocol

from .errors import BusyError, ConfigError

_ATTEMPTS = 5  # create/read/break rounds before giving up: each lost round means another run moved
_UNREADABLE_PAUSE = 0.1  # seconds between reads of a lock object that does not parse (yet)


class LockStore(Protocol):
    """What :func:`acquire`, :func:`refresh` and :func:`release` need from a state store."""

    def create(self, key: str, data: bytes) -> bool: ...
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class Lock:
    """A claim on one environment. ``token`` tells two acquisitions by the same owner apart."""

    owner: str
    env: str
    candidate: str | None
    acquired_at: datetime
    expires_at: datetime
    ci_run: str | None = None
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    host: str | None = None  # where the holding process runs, and its pid: a holder on this
    pid: int | None = None   # host whose pid is gone is provably dead, whatever its TTL says

    @classmethod
    def new(cls, owner: str, env: str, candidate: str | None, *, ttl: float, now: datetime,
            ci_run: str | None = None, host: str | None = None, pid: int | None = None) -> Lock:
        """A lock taken at ``now`` that expires ``ttl`` seconds later."""
        return cls(owner, env, candidate, now, now + timedelta(seconds=ttl), ci_run, host=host, pid=pid)

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["acquired_at"] = self.acquired_at.isoformat()
        doc["expires_at"] = self.expires_at.isoformat()
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Lock:
        try:
            doc = json.loads(data)
            doc["acquired_at"] = _aware(datetime.fromisoformat(doc["acquired_at"]))
            doc["expires_at"] = _aware(datetime.fromisoformat(doc["expires_at"]))
            return cls(**doc)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"The lock object in the state store is not a valid lock ({exc}). If no release is running, "
                "rerun with --force to replace it."
            ) from None


def is_stale(lock: Lock, now: datetime) -> bool:
    """True once the lock has expired: its holder is presumed dead."""
    return now >= lock.expires_at


def acquire(store: LockStore, key: str, lock: Lock, *, force: bool, now: datetime,
            dead: Callable[[Lock], bool] = lambda holder: False) -> Lock:
    """Take the lock at ``key``, or raise :class:`BusyError` naming the holder.

    A holder is replaced when it is stale, when ``force`` is set, when ``dead(holder)`` says its
    process is gone (the caller checks pids on its own host), or when it is a rerun of the same
    CI run releasing the same candidate: a rerun after a crash continues instead of waiting out
    the TTL, while a second concurrent release (another process) is refused.

    A lock object that does not parse is read again a few times (its writer may be between
    creating it and writing it), then refused with a :class:`ConfigError`; under ``force`` it
    is deleted at once (a run killed in that instant leaves an empty one).
    """
    holder: Lock | None = None
    unreadable: ConfigError | None = None
    for _ in range(_ATTEMPTS):
        if store.create(key, lock.to_json()):
            return lock
        raw = store.get(key)
        if raw is None:
            continue  # released between our create and get: try again
        try:
            holder = Lock.from_json(raw)
        except ConfigError as error:
            if force:
                store.delete(key)
            else:
                unreadable = error
                time.sleep(_UNREADABLE_PAUSE)
            continue
        unreadable = None
        if not (force or is_stale(holder, now) or _same_run(holder, lock) or dead(holder)):
            raise BusyError(busy_message(holder, now))
        if store.create(_break_marker(key, holder), lock.to_json()) and _token_at(store, key) == holder.token:
            # Re-read first: deletes are not conditional, and the holder may have been replaced since.
            store.delete(key)
        # else another run broke or replaced this holder: go round and meet whoever won
    if unreadable is not None:
        raise unreadable
    raise BusyError(busy_message(holder, now) if holder else f"Could not take the lock {key}: it keeps changing hands.")


def refresh(store: LockStore, key: str, held: Lock, *, ttl: float, now: datetime) -> Lock | None:
    """Extend ``held`` to expire ``ttl`` seconds after ``now``, if the lock at ``key`` is still
    ``held`` (same token); the renewed lock, or None once it was broken (or released).

    Like breaking, this is a read then an unconditional write: a breaker that deletes and
    replaces the lock between the two is overwritten. Refreshing well before the TTL runs out
    keeps the holder from looking stale, which is what makes that window unlikely.
    """
    if _token_at(store, key) != held.token:
        return None
    renewed = replace(held, expires_at=now + timedelta(seconds=ttl))
    store.put(key, renewed.to_json())
    return renewed


def release(store: LockStore, key: str, held: Lock) -> bool:
    """Delete the lock at ``key`` if it is still ``held`` (same token: not broken and retaken
    since, even by the same owner); True if it was deleted."""
    if _token_at(store, key) != held.token:
        return False
    store.delete(key)
    return True


def busy_message(holder: Lock, now: datetime) -> str:
    """One paragraph: who holds the environment, since and until when, and how to take it over."""
    run = f" (CI run {holder.ci_run})" if holder.ci_run else ""
    what = f"releasing version {holder.candidate}" if holder.candidate else "working on it"
    left = max(0, int((holder.expires_at - now).total_seconds()))
    return (
        f"Environment '{holder.env}' is locked by {holder.owner}{run}, {what}, since "
        f"{holder.acquired_at.isoformat(timespec='seconds')}. A live holder keeps renewing the lock; unless "
        f"renewed it expires at {holder.expires_at.isoformat(timespec='seconds')} (in {left // 60} min "
        f"{left % 60} s), and then the next run takes it. Wait for that run to finish, or, if it is dead, "
        "rerun with --force to take the lock over now."
    )


def _same_run(holder: Lock, lock: Lock) -> bool:
    return bool(holder.ci_run) and (holder.ci_run, holder.env, holder.candidate) == (lock.ci_run, lock.env,
                                                                                     lock.candidate)


def _token_at(store: LockStore, key: str) -> str | None:
    raw = store.get(key)
    try:
        return Lock.from_json(raw).token if raw is not None else None
    except ConfigError:
        return None  # not a lock anyone holds by token


def _break_marker(key: str, holder: Lock) -> str:
    # Never deleted: a late breaker of the same holder must keep losing.
    return f"{key}.broken/{holder.token}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
