"""core.history: record model, key naming (listing order is time order) and the history table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.history import (
    HEADERS,
    Record,
    delete,
    format_table,
    key_for,
    load,
    save,
)

T0 = datetime(2025, 3, 1, 9, 30, 5, tzinfo=timezone.utc)
GATE = [{"metric": "error_rate", "candidate": 0.31, "stable": 0.0, "threshold": 0.05, "verdict": "fail"}]


def record(started: datetime, **over) -> Record:
    fields = dict(kind="release", env="prod", actor="alice", commit="0123456789abcdef", ci_run="gh 77",
                  from_version="3", to_version="4", result="rolled-back", reason="error_rate 0.31 > 0.05",
                  analysis=GATE, started_at=started, finished_at=started + timedelta(seconds=95))
    fields.update(over)
    return Record(**fields)


class DictStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def list(self, prefix: str) -> list[str]:
        # Deliberately unordered: load() must not rely on the store's order.
        return [k for k in reversed(list(self.objects)) if k.startswith(prefix)]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


def test_json_round_trip_including_analysis_and_open_end():
    done = record(T0)
    assert Record.from_json(done.to_json()) == done
    running = record(T0, finished_at=None, result="ok", reason="")
    assert Record.from_json(running.to_json()) == running


def test_key_is_env_then_compact_utc_time_then_id():
    r = record(datetime(2025, 3, 1, 11, 30, 5, tzinfo=timezone(timedelta(hours=2))))
    assert key_for(r) == f"history/prod/20250301T093005Z-{r.id}.json"


@pytest.mark.parametrize("field", ["kind", "result"])
def test_unknown_kind_or_result_is_refused(field):
    with pytest.raises(ConfigError, match=field):
        record(T0, **{field: "bogus"})


def test_corrupt_record_is_a_config_error():
    with pytest.raises(ConfigError, match="history record"):
        Record.from_json(b'{"kind": "release"}')


def test_save_then_load_is_in_time_order_and_per_environment():
    store = DictStore()
    times = [T0 + timedelta(hours=h) for h in (5, 0, 27, 3)]  # saved out of order, across a day boundary
    for t in times:
        save(store, record(t))
    save(store, record(T0, env="dev"))
    loaded = load(store, "prod")
    assert [r.started_at for r in loaded] == sorted(times)
    assert [r.started_at for r in load(store, "prod", limit=2)] == sorted(times)[-2:]
    assert [r.env for r in load(store, "dev")] == ["dev"]


def test_saving_a_finished_record_again_overwrites_the_running_one():
    store = DictStore()
    running = record(T0, finished_at=None, result="ok", reason="")
    save(store, running)
    save(store, record(T0, id=running.id))
    (only,) = load(store, "prod")
    assert only.finished_at is not None
    assert only.result == "rolled-back"


def test_a_running_record_that_changed_nothing_is_deleted():
    store = DictStore()
    kept, running = record(T0), record(T0 + timedelta(minutes=1), finished_at=None, result="running", reason="")
    save(store, kept)
    save(store, running)
    delete(store, running)
    assert load(store, "prod") == [kept]


def test_format_table_rows():
    headers, rows = format_table([record(T0), record(T0, kind="rollback", from_version=None, commit=None,
                                                     finished_at=None, result="ok", reason="")])
    assert headers == HEADERS
    assert rows[0] == ("2025-03-01 09:30:05Z", "release", "3", "4", "rolled-back", "alice", "01234567", "gh 77",
                       "95s", "error_rate 0.31 > 0.05")
    assert rows[1][1:4] == ("rollback", "-", "4")
    assert rows[1][6] == "-"
    assert rows[1][8] == "running"
