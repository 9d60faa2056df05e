"""How an AgentRun runtime's logs sit in its SLS logstore, and how they become ``invoke logs`` records.

An AgentRun runtime runs as the Function Compute 3.0 function ``agentrun-<runtime id>`` (the
devsapp agentrun component builds that name for ``s logs``, which it hands to the fc3 component).
FC writes two kinds of rows into the logstore of the runtime's ``logConfiguration``, told apart
by ``__topic__``:

- ``FCRequestMetrics:/<function>``: one row per request (FC's request-level metrics, on by
  default): ``requestId``, ``qualifier``, ``versionId``, ``durationMs``,
  ``invocationStartTimestamp`` (ms), ``hasFunctionError`` and, for HTTP functions, ``statusCode``.
- ``FCLogs:<function>``: what the agent printed (``message``), one row per line, with
  ``instanceID``, ``qualifier`` and ``versionId``; FC frames each request with
  ``FC Invoke Start/End RequestId: ...`` lines.

Field names follow FC's documentation of its log fields and the fc3 component's ``logs``
command. Which FC ``versionId`` an AgentRun version number becomes is not documented: ``--version``
filters on ``versionId`` equal to the number, an assumption the contract suite's report lists
for the first run against a real account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

FRAMING = re.compile(r"^\s*FC Invoke (Start|End) RequestId:")


def function_name(runtime_id: str) -> str:
    return f"agentrun-{runtime_id}"


def request_topic(runtime_id: str) -> str:
    return f"FCRequestMetrics:/{function_name(runtime_id)}"


def output_topic(runtime_id: str) -> str:
    return f"FCLogs:{function_name(runtime_id)}"


def topic_query(topic: str) -> str:
    """The SLS search statement selecting one topic (a phrase query on ``__topic__``)."""
    return f'__topic__: "{topic}"'


def row_time(row: Mapping) -> float:
    """Epoch seconds of a row: FC's millisecond start time when the row has one, else ``__time__``."""
    started = _number(row.get("invocationStartTimestamp"))
    return started / 1000.0 if started else float(_number(row.get("__time__")) or 0.0)


def row_version(row: Mapping) -> str:
    return str(row.get("versionId") or row.get("qualifier") or "?")


def request_record(row: Mapping, runtime: str) -> dict:
    """An ``FCRequestMetrics`` row as a request-log record (the emulator's record shape)."""
    status = _number(row.get("statusCode"))
    failed = str(row.get("hasFunctionError", "")).lower() == "true" or (status or 0) >= 500
    return {"ts": row_time(row), "runtime": runtime, "endpoint": str(row.get("qualifier") or "-"),
            "version": row_version(row), "status": int(status) if status is not None else "?",
            "latency_ms": float(_number(row.get("durationMs")) or 0.0),
            "outcome": "fail" if failed else "success", "request_id": str(row.get("requestId") or "")}


def requests_matching(rows: Iterable[Mapping], runtime: str, *, since: float, version: str | None,
                      errors: bool) -> list[dict]:
    """Request records from ``since`` on (SLS windows are whole seconds), oldest first, filtered."""
    records = (request_record(row, runtime) for row in rows)
    return sorted((r for r in records if r["ts"] >= since and (version is None or r["version"] == version)
                   and (not errors or r["outcome"] == "fail")), key=lambda r: r["ts"])


def output_blocks(rows: Iterable[Mapping], *, version: str | None, lines: int) -> list[dict]:
    """``[{version, lines}]``: the last ``lines`` lines each version printed, FC's framing left out."""
    by_version: dict[str, list[tuple[float, str]]] = {}
    for row in rows:
        message = str(row.get("message") or "").rstrip("\n")
        if not message.strip() or FRAMING.match(message):
            continue
        name = row_version(row)
        if version is None or name == version:
            by_version.setdefault(name, []).append((row_time(row), message))
    return [{"version": name, "lines": [text for _, text in sorted(found, key=lambda x: x[0])][-lines:]}
            for name, found in sorted(by_version.items())]


def _number(value: Any) -> float | None:
    """A log field as a number (SLS sends strings, the emulator numbers); None when absent or not one."""
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
