"""Every request the data plane served: when, to which endpoint and version, status, latency.

The analysis gates of a release query it by time window and outcome. Records go to a list
in memory and reach SQLite in batches (one transaction per batch), so ``record`` costs an
append on the proxy's hot path; ``query`` writes the pending batch first and so sees every
record. The file lives beside the emulator's state and survives restarts; opening it drops
records older than the retention (7 days by default) and all but the newest ``max_rows``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

BATCH = 1000  # records per transaction
FLUSH_INTERVAL_S = 1.0  # and at least this often while requests arrive
RETENTION_S = 7 * 24 * 3600.0  # longer than any release's analysis window
MAX_ROWS = 1_000_000  # ~110 MB of SQLite with its index: a bound for a week of load tests

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    ts REAL NOT NULL, runtime TEXT NOT NULL, endpoint TEXT NOT NULL, version TEXT NOT NULL,
    status INTEGER NOT NULL, latency_ms REAL NOT NULL);
CREATE INDEX IF NOT EXISTS requests_by_endpoint_ts ON requests (runtime, endpoint, ts);
"""
_COLUMNS = ("ts", "runtime", "endpoint", "version", "status", "latency_ms")
OUTCOMES = ("success", "fail")


def is_failure(status: int) -> bool:
    """A 5xx, including the 502/503 the proxy answers itself, is a failed request."""
    return status >= 500


class RequestLog:
    """Append-mostly log of data-plane requests, stored in SQLite at ``path``.

    Opening prunes: records older than ``retention_s`` seconds (None keeps them all), then all
    but the newest ``max_rows`` (None: no cap). Nothing is pruned while the log is open.
    """

    def __init__(self, path: Path, *, retention_s: float | None = RETENTION_S, max_rows: int | None = MAX_ROWS):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a crash may lose the last batch only
        self._db.executescript(_SCHEMA)
        self._prune(retention_s, max_rows)
        self._pending: list[tuple] = []
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()  # the control plane may query from another thread

    def _prune(self, retention_s: float | None, max_rows: int | None) -> None:
        with self._db:
            if retention_s is not None:
                self._db.execute("DELETE FROM requests WHERE ts < ?", (time.time() - retention_s,))
            if max_rows is not None:
                # Counting first: the ordered sub-select sorts the whole table, so only when over the cap.
                (count,) = self._db.execute("SELECT count(*) FROM requests").fetchone()
                if count > max_rows:
                    self._db.execute("DELETE FROM requests WHERE rowid IN (SELECT rowid FROM requests "
                                     "ORDER BY ts DESC, rowid DESC LIMIT -1 OFFSET ?)", (max_rows,))

    def record(self, runtime: str, endpoint: str, version: str, status: int,
               latency_ms: float, ts: float | None = None) -> None:
        """Log one request; ``ts`` (epoch seconds) defaults to now."""
        self._pending.append((time.time() if ts is None else ts, runtime, endpoint, version,
                              status, latency_ms))
        if len(self._pending) >= BATCH or time.monotonic() - self._last_flush > FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        """Write the pending records in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            if pending:
                with self._db:  # one transaction, committed on exit
                    self._db.executemany("INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?)", pending)

    def query(self, runtime: str | None = None, endpoint: str | None = None,
              version: str | None = None, since: float | None = None, until: float | None = None,
              outcome: str | None = None, limit: int | None = None) -> list[dict]:
        """Records matching every given filter, oldest first.

        ``since`` <= ts < ``until`` (epoch seconds); ``outcome`` is "success" or "fail" (5xx);
        ``limit`` keeps the newest that many.
        """
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        where, args = [], []
        for column, op, value in (("runtime", "=", runtime), ("endpoint", "=", endpoint),
                                  ("version", "=", version), ("ts", ">=", since),
                                  ("ts", "<", until)):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        if outcome is not None:
            where.append("status >= 500" if outcome == "fail" else "status < 500")
        sql = "SELECT * FROM requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        self.flush()
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_as_dict(row) for row in reversed(rows)]

    def close(self) -> None:
        """Write what is pending and close the file."""
        self.flush()
        with self._lock:
            self._db.close()


def _as_dict(row: tuple) -> dict:
    record = dict(zip(_COLUMNS, row))
    record["outcome"] = "fail" if is_failure(record["status"]) else "success"
    return record
