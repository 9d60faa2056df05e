"""Release history: one JSON record per release, promotion or rollback.

Records live in the state store as ``history/<env>/<started_at>-<id>.json`` with a compact UTC
timestamp first, so a plain key listing is already in time order and a later run on another CI
runner reads the same history. :func:`save` and :func:`load` go through a store-like object;
everything else is pure.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from .errors import ConfigError

KINDS = ("release", "promote", "rollback")
# running: not finished (or killed); interrupted: killed, closed by the next run that took the lock;
# aborted: stopped by SIGINT/SIGTERM, traffic sent back to stable first
RESULTS = ("ok", "rolled-back", "failed", "running", "interrupted", "aborted")
_STAMP = "%Y%m%dT%H%M%SZ"


class HistoryStore(Protocol):
    """What :func:`save` and :func:`load` need from a state store."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class Record:
    """What happened to one environment: who, which commit and CI run, versions, result, why."""

    kind: str
    env: str
    actor: str
    commit: str | None
    ci_run: str | None
    from_version: str | None
    to_version: str | None
    result: str
    reason: str
    analysis: list[dict]
    started_at: datetime
    finished_at: datetime | None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"History record kind {self.kind!r} is not one of {', '.join(KINDS)}.")
        if self.result not in RESULTS:
            raise ConfigError(f"History record result {self.result!r} is not one of {', '.join(RESULTS)}.")

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["started_at"] = self.started_at.isoformat()
        doc["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return json.dumps(doc, sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Record:
        try:
            doc = json.loads(data)
            doc["started_at"] = _utc(datetime.fromisoformat(doc["started_at"]))
            doc["finished_at"] = _utc(datetime.fromisoformat(doc["finished_at"])) if doc["finished_at"] else None
            return cls(**doc)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"A history record in the state store is not valid ({exc}); delete or fix it.") from None


def env_prefix(env: str) -> str:
    return f"history/{env}/"


def key_for(record: Record) -> str:
    """``history/<env>/<YYYYmmddTHHMMSSZ>-<id>.json``: listing order is time order."""
    return f"{env_prefix(record.env)}{_utc(record.started_at).strftime(_STAMP)}-{record.id}.json"


def save(store: HistoryStore, record: Record) -> str:
    """Write ``record`` (again, when it finishes: same key) and return its key."""
    key = key_for(record)
    store.put(key, record.to_json())
    return key


def delete(store: HistoryStore, record: Record) -> None:
    """Remove ``record`` (a running one that turned out to change nothing)."""
    store.delete(key_for(record))


def load(store: HistoryStore, env: str, *, limit: int | None = None) -> list[Record]:
    """The environment's records, oldest first; with ``limit``, only the latest ``limit``."""
    keys = sorted(store.list(env_prefix(env)))
    if limit is not None:
        keys = keys[-limit:] if limit > 0 else []
    records = []
    for key in keys:
        raw = store.get(key)
        if raw is not None:  # deleted since the listing
            records.append(Record.from_json(raw))
    return records


HEADERS = ("started", "kind", "from", "to", "result", "actor", "commit", "ci run", "duration", "reason")


def format_table(records: list[Record]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Headers and one row of strings per record, for ``invoke history`` (``--json`` uses to_json)."""
    rows: list[tuple[str, ...]] = []
    for r in records:
        took = f"{int((r.finished_at - r.started_at).total_seconds())}s" if r.finished_at else "running"
        rows.append((
            _utc(r.started_at).strftime("%Y-%m-%d %H:%M:%SZ"), r.kind, r.from_version or "-", r.to_version or "-",
            r.result, r.actor, (r.commit or "-")[:8], r.ci_run or "-", took, r.reason or "",
        ))
    return HEADERS, rows


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
