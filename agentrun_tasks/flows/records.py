"""What a release leaves behind where every later run can read it: the environment's lock,
its history, and the versions marked failed (never promoted again without --force)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..core import history, lock
from ..core.cienv import who
from ..core.errors import ConfigError
from ..core.history import Record

if TYPE_CHECKING:
    from ..core.cienv import CIContext
    from ..core.ports import StateStore, Workspace


class Records:
    """Lock, history and failed marks of one environment in one store."""

    def __init__(self, store: StateStore, env_name: str, ci: CIContext, *,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.store, self.env_name, self.ci, self.now = store, env_name, ci, now
        self.host = socket.gethostname()
        self.owner = f"{who(ci)}@{self.host}"
        self._held: lock.Lock | None = None
        self._ttl = 0.0
        self._guard = threading.Lock()  # the keep-alive thread and the flow both refresh
        self._stop_keepalive: threading.Event | None = None

    @classmethod
    def of(cls, session: Workspace) -> Records:
        """The records of a session's environment, in its state store."""
        return cls(session.state_store(), session.env.name, session.ci)

    @property
    def lock_key(self) -> str:
        return f"locks/{self.env_name}.json"

    def acquire(self, candidate: str | None, *, ttl: float, force: bool) -> None:
        """Take the environment's lock (BusyError if a live run holds it) and keep it alive from a
        background thread, so the TTL can be short: a dead holder's lock expires within ``ttl``.
        A run that takes the lock closes the records of runs killed before they finished."""
        mine = lock.Lock.new(self.owner, self.env_name, candidate, ttl=ttl, now=self.now(),
                             ci_run=self.ci.run_url or self.ci.build_id, host=self.host, pid=os.getpid())
        self._held = lock.acquire(self.store, self.lock_key, mine, force=force, now=self.now(), dead=self._dead)
        self._ttl = ttl
        self._start_keepalive(ttl)
        self.close_interrupted()

    def refresh(self) -> bool:
        """Still alive: the held lock expires ``ttl`` from now again. False if it was broken."""
        with self._guard:
            if self._held is None:
                return False
            renewed = lock.refresh(self.store, self.lock_key, self._held, ttl=self._ttl, now=self.now())
            if renewed is None:
                return False
            self._held = renewed
            return True

    def release(self) -> None:
        if self._stop_keepalive is not None:
            self._stop_keepalive.set()
            self._stop_keepalive = None
        with self._guard:
            if self._held is not None:
                lock.release(self.store, self.lock_key, self._held)
                self._held = None

    def _start_keepalive(self, ttl: float) -> None:
        """Refresh three times per TTL while this process lives; a broken lock ends the thread
        (the flow's own refresh reports it)."""
        stop = self._stop_keepalive = threading.Event()

        def beat() -> None:
            while not stop.wait(ttl / 3):
                try:
                    if not self.refresh():
                        return
                except Exception:  # a store hiccup: the next beat tries again before the TTL runs out
                    continue

        threading.Thread(target=beat, name=f"lock-keepalive-{self.env_name}", daemon=True).start()

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
    # A mark names what failed (see candidate.failure_mark): the runtime's id and the version's
    # fingerprint, so a removed and recreated runtime, whose numbers restart at 1, starts clean.
    def _failed_key(self, mark: str) -> str:
        return f"failed/{self.env_name}/{mark}.json"

    def mark_failed(self, mark: str, reason: str) -> None:
        self.store.put(self._failed_key(mark), reason.encode())

    def failed_reason(self, mark: str) -> str | None:
        reason = self.store.get(self._failed_key(mark))
        return None if reason is None else reason.decode(errors="replace")

    def check_not_failed(self, version: str, mark: str, *, force: bool) -> None:
        """Refuse a version that failed before; ``--force`` clears the mark and tries again."""
        reason = self.failed_reason(mark)
        if reason is None:
            return
        if force:
            self.store.delete(self._failed_key(mark))
            return
        raise ConfigError(f"version {version} failed a release of '{self.env_name}' before ({reason}); release "
                          "a fixed version, or rerun `invoke release` with --force to try this one again.")

    # -- versions published while the runtime changed ---------------------------------------
    def _unproven_prefix(self, runtime_id: str) -> str:
        return f"unproven/{self.env_name}/{runtime_id}/"

    def mark_unproven(self, runtime_id: str, version: str, reason: str) -> None:
        """``version`` may hold other code than its description's fingerprint says: never reuse it."""
        self.store.put(self._unproven_prefix(runtime_id) + version, reason.encode())

    def unproven(self, runtime_id: str) -> frozenset[str]:
        return frozenset(key.rsplit("/", 1)[-1] for key in self.store.list(self._unproven_prefix(runtime_id)))

    # -- history ---------------------------------------------------------------------------
    def record(self, kind: str, *, from_version: str | None, to_version: str | None, result: str, reason: str = "",
               analysis: Iterable[dict] | None = None, started_at: datetime) -> Record:
        entry = Record(kind=kind, env=self.env_name, actor=who(self.ci), commit=self.ci.sha,
                       ci_run=self.ci.run_url, from_version=from_version, to_version=to_version, result=result,
                       reason=reason, analysis=list(analysis or []), started_at=started_at,
                       finished_at=self.now())
        history.save(self.store, entry)
        return entry

    def start(self, kind: str, *, from_version: str | None, to_version: str | None, started_at: datetime) -> Record:
        """A running record (no end yet), saved now so a run killed later still leaves it."""
        entry = Record(kind=kind, env=self.env_name, actor=who(self.ci), commit=self.ci.sha,
                       ci_run=self.ci.run_url, from_version=from_version, to_version=to_version, result="running",
                       reason="", analysis=[], started_at=started_at, finished_at=None)
        history.save(self.store, entry)
        return entry

    def update(self, entry: Record, **changes: Any) -> Record:
        """Save ``entry`` with ``changes`` again under its key."""
        entry = replace(entry, **changes)
        history.save(self.store, entry)
        return entry

    def finish(self, entry: Record, *, result: str, reason: str = "", analysis: Iterable[dict] | None = None,
               **changes: Any) -> Record:
        """Save ``entry`` finished now with ``result`` (same key: it replaces the running record)."""
        return self.update(entry, result=result, reason=reason, analysis=list(analysis or []),
                           finished_at=self.now(), **changes)

    def close_interrupted(self, recent: int = 20) -> list[Record]:
        """Close the recent records still ``running``: their runs are dead, since this one holds
        the lock they held (rollback and promote never leave one running)."""
        return [self.finish(entry, result="interrupted", reason=f"the run ended without finishing (killed); "
                            f"closed by {self.owner}", analysis=entry.analysis)
                for entry in self.history(limit=recent) if entry.result == "running"]

    def discard(self, entry: Record) -> None:
        history.delete(self.store, entry)

    def history(self, limit: int | None = None) -> list[Record]:
        return history.load(self.store, self.env_name, limit=limit)

