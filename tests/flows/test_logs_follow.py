"""flows.logs.follow: new request-log records and new output lines only, each printed once."""

from __future__ import annotations

from agentrun_tasks.core.logs import LogQuery, new_lines
from agentrun_tasks.flows.logs import follow


class GrowingLogs:
    """A reader whose log grows between polls, as the emulator's does."""

    def __init__(self):
        self.polls = 0
        self.output_since: list[float] = []

    def requests(self, query, *, since=None, limit=1000):
        self.polls += 1
        records = [{"ts": float(t), "endpoint": "prod", "version": "1", "status": 500 if t == 2 else 200,
                    "latency_ms": 5.0} for t in range(self.polls)]
        return [r for r in records if r["ts"] >= since]

    def output(self, query):
        self.output_since.append(query.since)
        return [{"version": "1", "lines": [f"line {i}" for i in range(self.polls + 1)][-3:]}]


def test_follow_prints_each_record_and_line_once_and_reads_output_from_shortly_before_the_last_poll():
    shown: list[str] = []
    logs, clock = GrowingLogs(), iter([100.0, 101.0, 102.0, 103.0])
    follow(logs, LogQuery("demo", since=0.0), shown.append, sleep=lambda s: None, rounds=4,
           clock=lambda: next(clock), lag=30.0)
    assert logs.output_since == [0.0, 70.0, 71.0, 72.0]
    assert sum("HTTP" in line for line in shown) == 4  # records at t=0..3, each once
    assert [line for line in shown if line.startswith("[version 1]")] == [
        "[version 1] line 0", "[version 1] line 1", "[version 1] line 2", "[version 1] line 3", "[version 1] line 4"]


def test_new_lines_of_a_tail():
    assert new_lines(["a", "b"], ["b", "c", "d"]) == ["c", "d"]
    assert new_lines([], ["a"]) == ["a"]
    assert new_lines(["x"], ["a", "b"]) == ["a", "b"]
