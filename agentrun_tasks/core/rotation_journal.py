"""The rotation journal and what it is read against: one RAM AccessKey as ListAccessKeys reports
it, the journal that records where one user's rotation stands (ids, times and the sealed new
secret only) with its JSON form, and the state-store keys it is kept under.

:mod:`agentrun_tasks.core.rotation` decides the next step from these and returns the journal each
step leaves behind.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from .errors import ConfigError

ACTIVE, INACTIVE = "Active", "Inactive"
# creating: intent recorded, key maybe created; created: id known; verified: STS accepted it;
# written: every sink has it; deactivated: the old key is Inactive; done: nothing pending.
PHASES = ("creating", "created", "verified", "written", "deactivated", "done")


@dataclass(frozen=True)
class Key:
    """One AccessKey of the RAM user as ListAccessKeys reports it."""

    id: str
    status: str
    created: datetime


@dataclass(frozen=True)
class Journal:
    """Where one user's rotation stands. Ids and times only; ``pending`` is the sealed new secret."""

    user: str
    phase: str
    old_id: str | None = None
    new_id: str | None = None
    written: tuple[str, ...] = ()  # sinks that hold the new key (written and read back)
    touched: tuple[str, ...] = ()  # sinks a write was started on: they may hold the new key
    created: tuple[str, ...] = ()  # the last ids this tool created for the user: provably its own
    pending: str | None = None
    sealed_with: str | None = None  # the key id whose secret sealed ``pending``
    started_at: datetime | None = None
    written_at: datetime | None = None
    deactivated_at: datetime | None = None

    def to_json(self) -> bytes:
        doc = asdict(self)
        for name in ("started_at", "written_at", "deactivated_at"):
            doc[name] = doc[name].isoformat() if doc[name] else None
        for name in ("written", "touched", "created"):
            doc[name] = list(getattr(self, name))
        return json.dumps(doc, sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Journal:
        try:
            doc = json.loads(data)
            for name in ("started_at", "written_at", "deactivated_at"):
                doc[name] = _utc(datetime.fromisoformat(doc[name])) if doc.get(name) else None
            for name in ("written", "touched", "created"):
                doc[name] = tuple(doc.get(name) or ())
            journal = cls(**doc)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"The rotation journal is not valid ({exc}); delete it from the state store "
                              "after checking the RAM user's keys by hand.") from None
        if journal.phase not in PHASES:
            raise ConfigError(f"The rotation journal has an unknown phase {journal.phase!r}.")
        return journal


def journal_key(user: str) -> str:
    return f"rotation/{user}.json"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
