"""What ``invoke logs`` shows: request-log records and agent output as plain lines, filtered.

A record is ``{ts, runtime, endpoint, version, status, latency_ms}`` (the emulator's request
log); agent output comes as ``{version, lines}`` blocks. Nothing here reads a log: the session
opens the reader, :mod:`agentrun_tasks.flows.logs` polls it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

# What marks an agent's output line as an error when --errors asks for them.
ERROR_LINE = re.compile(r"error|exception|traceback|fatal|critical|panic", re.IGNORECASE)


@dataclass(frozen=True)
class LogQuery:
    runtime: str
    since: float  # epoch seconds
    version: str | None = None
    errors: bool = False  # failed requests (5xx) and error lines only
    lines: int = 50  # of agent output per version


def request_line(record: Mapping) -> str:
    when = datetime.fromtimestamp(record["ts"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return (f"{when}  {record['endpoint']}  version {record['version']}  HTTP {record['status']}  "
            f"{record['latency_ms']:.0f} ms")


def output_lines(blocks: Iterable[Mapping], *, errors: bool) -> list[str]:
    """``[version 2] line`` for each line of each block (error lines only with ``errors``)."""
    return [f"[version {block['version']}] {line}" for block in (only_errors(blocks) if errors else blocks)
            for line in block["lines"] if line.strip()]


def only_errors(blocks: Iterable[Mapping]) -> list[dict]:
    """The blocks cut to their error lines; blocks left empty are dropped."""
    cut = ({**block, "lines": [line for line in block["lines"] if ERROR_LINE.search(line)]} for block in blocks)
    return [block for block in cut if block["lines"]]


def new_lines(previous: list[str], current: list[str]) -> list[str]:
    """The lines of ``current`` (a tail of a growing log) that follow what ``previous`` showed."""
    if not previous:
        return current
    last = previous[-1]
    for i in range(len(current) - 1, -1, -1):
        if current[i] == last:
            return current[i + 1:]
    return current
