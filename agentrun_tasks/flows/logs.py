"""``invoke logs``: read a runtime's logs once, or follow them (``--tail``) until interrupted."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from ..core.logs import LogQuery, new_lines, only_errors, output_lines, request_line


class LogReader(Protocol):
    def requests(self, query: LogQuery, *, since: float | None = None, limit: int = 1000) -> list[dict]: ...
    def output(self, query: LogQuery) -> list[dict]: ...


def read(reader: LogReader, query: LogQuery) -> dict:
    """``{requests: [...], output: [...]}``: the records since ``query.since`` and the agent output
    (its error lines only, with ``query.errors``)."""
    output = reader.output(query)
    return {"requests": reader.requests(query), "output": only_errors(output) if query.errors else output}


def follow(reader: LogReader, query: LogQuery, emit: Callable[[str], None], *, interval: float = 1.0,
           sleep: Callable[[float], None] = time.sleep, rounds: int | None = None,
           clock: Callable[[], float] = time.time, lag: float = 30.0) -> None:
    """Print new request-log records and agent output lines as they come, until Ctrl-C (or
    ``rounds`` polls, for tests). After the first poll the output is read from ``lag`` seconds
    before the previous poll only: SLS indexes rows seconds late, and reading the whole window
    every second would cost a chatty runtime dozens of pages a poll."""
    since = query.since
    output_query = query
    shown: dict[str, list[str]] = {}  # version -> its output lines printed so far
    done = 0
    while rounds is None or done < rounds:
        polled = clock()
        records = reader.requests(query, since=since)
        for record in records:
            emit(request_line(record))
        if records:
            since = records[-1]["ts"] + 1e-6
        for block in reader.output(output_query):
            fresh = new_lines(shown.get(block["version"], []), block["lines"])
            shown[block["version"]] = block["lines"]
            for line in output_lines([{**block, "lines": fresh}], errors=query.errors):
                emit(line)
        output_query = replace(query, since=max(query.since, polled - lag))
        done += 1
        if rounds is None or done < rounds:
            sleep(interval)
