"""What a release leaves behind where every later run can read it: the environment's lock,
its history, and the versions marked failed (never promoted again without --force)."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import replace
from datetime import datetime, timezone

from ...core import history, lock
from ...core.errors import ConfigError
from ...core.history import Record


class Records:
    """Lock, history and failed marks of one environment in one store."""

    def __init__(self, store, env_name: str, ci, *, now=lambda: datetime.now(timezone.utc)) -> None:
        self.store, self.env_name, self.ci, self.now = store, env_name, ci, now
        self.host = socket.gethostname()
        self.owner = f"{ci.actor or _user()}@{self.host}"
        self._held: lock.Lock | None = None
        self._ttl = 0.0

    @property
    def lock_key(self) -> str:
        return f"locks/{self.env_name}.json"

    def acquire(self, candidate: str | None, *, ttl: float, force: bool) -> None:
        mine = lock.Lock.new(self.owner, self.env_name, candidate, ttl=ttl, now=self.now(),
                             ci_run=self.ci.run_url or self.ci.build_id, host=self.host, pid=os.getpid())
        self._held = lock.acquire(self.store, self.lock_key, mine, force=force, now=self.now(), dead=self._dead)
        self._ttl = ttl

    def refresh(self) -> bool:
        """Still alive: the held lock expires ``ttl`` from now again. False if it was broken."""
        if self._held is None:
            return False
        renewed = lock.refresh(self.store, self.lock_key, self._held, ttl=self._ttl, now=self.now())
        if renewed is None:
            return False
        self._held = renewed
        return True

    def release(self) -> None:
        if self._held is not None:
            lock.release(self.store, self.lock_key, self._held)
            self._held = None

    def _dead(self, holder: lock.Lock) -> bool:
        """A holder on this host whose process is gone was killed: its lock is free."""
        if holder.host != self.host or not holder.pid or holder.pid == os.getpid():
            return False
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    # -- failed versions -------------------------------------------------------------------
    def _failed_key(self, version: str) -> str:
        return f"failed/{self.env_name}/{version}.json"

    def mark_failed(self, version: str, reason: str) -> None:
        self.store.put(self._failed_key(version), reason.encode())

    def failed_reason(self, version: str) -> str | None:
        reason = self.store.get(self._failed_key(version))
        return None if reason is None else reason.decode(errors="replace")

    def check_not_failed(self, version: str, *, force: bool) -> None:
        """Refuse a version that failed before; ``--force`` clears the mark and tries again."""
        reason = self.failed_reason(version)
        if reason is None:
            return
        if force:
            self.store.delete(self._failed_key(version))
            return
        raise ConfigError(f"version {version} failed a release of '{self.env_name}' before ({reason}); release "
                          "a fixed version, or rerun `invoke release` with --force to try this one again.")

    # -- history ---------------------------------------------------------------------------
    def record(self, kind: str, *, from_version, to_version, result: str, reason: str = "",
               analysis=None, started_at: datetime) -> Record:
        entry = Record(kind=kind, env=self.env_name, actor=self.ci.actor or _user(), commit=self.ci.sha,
                       ci_run=self.ci.run_url, from_version=from_version, to_version=to_version, result=result,
                       reason=reason, analysis=list(analysis or []), started_at=started_at,
                       finished_at=self.now())
        history.save(self.store, entry)
        return entry

    def start(self, kind: str, *, from_version, to_version, started_at: datetime) -> Record:
        """A running record (no end yet), saved now so a run killed later still leaves it."""
        entry = Record(kind=kind, env=self.env_name, actor=self.ci.actor or _user(), commit=self.ci.sha,
                       ci_run=self.ci.run_url, from_version=from_version, to_version=to_version, result="running",
                       reason="", analysis=[], started_at=started_at, finished_at=None)
        history.save(self.store, entry)
        return entry

    def update(self, entry: Record, **changes) -> Record:
        """Save ``entry`` with ``changes`` again under its key."""
        entry = replace(entry, **changes)
        history.save(self.store, entry)
        return entry

    def finish(self, entry: Record, *, result: str, reason: str = "", analysis=None, **changes) -> Record:
        """Save ``entry`` finished now with ``result`` (same key: it replaces the running record)."""
        return self.update(entry, result=result, reason=reason, analysis=list(analysis or []),
                           finished_at=self.now(), **changes)

    def discard(self, entry: Record) -> None:
        history.delete(self.store, entry)

    def history(self, limit: int | None = None) -> list[Record]:
        return history.load(self.store, self.env_name, limit=limit)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
