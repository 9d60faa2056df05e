"""The subset of SLS queries the embedded AgentRun answers for custom metrics, over its request
log seen as FC's ``FCRequestMetrics`` rows (so one query serves the emulator and the cloud)::

    [* | or __topic__: <word> |] select <aggregate> as value, <aggregate> as samples
                                 [from log] [where <condition> [and <condition>]...]

* aggregates: ``count(*)``, ``count_if(<condition>)``, ``avg|sum|min|max(<column>)``,
  ``approx_percentile(<column>, <0..1>)``;
* conditions: ``<column> <op> <literal>``, op one of ``= != <> < <= > >=``, a literal a number
  or a 'quoted string';
* columns: ``versionId``, ``qualifier`` (the endpoint), ``statusCode``, ``durationMs``, ``__time__``.

Anything else is a :class:`ConfigError` naming the part, raised when the env file loads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

COLUMNS = ("versionId", "qualifier", "statusCode", "durationMs", "__time__")
_AGGREGATES = ("count", "count_if", "avg", "sum", "min", "max", "approx_percentile")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|!=|<>|[=<>(),*|:]))")


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    literal: Any

    def holds(self, row: Mapping[str, Any]) -> bool:
        value: Any = row.get(self.column)
        try:
            return _OPS[self.op](value if isinstance(self.literal, str) else float(value), self.literal)
        except (TypeError, ValueError):
            return False


@dataclass(frozen=True)
class Aggregate:
    name: str
    column: str | None = None
    condition: Condition | None = None
    q: float | None = None

    def over(self, rows: Sequence[Mapping[str, Any]]) -> float | None:
        if self.name == "count":
            return float(len(rows))
        if self.name == "count_if":
            assert self.condition is not None
            return float(sum(1 for row in rows if self.condition.holds(row)))
        column = str(self.column)
        values = sorted(float(row[column]) for row in rows if _number(row.get(column)))
        if not values:
            return None
        if self.name == "approx_percentile":
            return values[min(len(values) - 1, max(0, math.ceil(self.q * len(values)) - 1))]  # type: ignore[operator]
        return {"avg": sum(values) / len(values), "sum": sum(values), "min": values[0], "max": values[-1]}[self.name]


@dataclass(frozen=True)
class Query:
    value: Aggregate
    samples: Aggregate
    where: tuple[Condition, ...]

    def answer(self, rows: Sequence[Mapping[str, Any]]) -> tuple[float | None, int]:
        """``(value, samples)`` over the rows the query's conditions keep."""
        kept = [row for row in rows if all(c.holds(row) for c in self.where)]
        samples = self.samples.over(kept)
        return self.value.over(kept), int(samples or 0)


def parse(text: str) -> Query:
    """The query, or ConfigError naming the first part outside the subset."""
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, at = text, [], 0
        while at < len(text.rstrip()):
            found = _TOKEN.match(text, at)
            if not found or found.end() == at:
                raise self.error(f"{text[at:].strip()[:30]!r}")
            string, number, word, symbol = found.groups()
            self.tokens.append(("str", string[1:-1].replace("''", "'")) if string else ("num", float(number))
                               if number else ("word", word) if word else ("sym", symbol))
            at = found.end()
        self.at = 0

    def error(self, part: str) -> ConfigError:
        return ConfigError(f"the embedded AgentRun cannot answer the metric query {self.text!r}: {part} is "
                           "outside the subset it supports (see core/metric_query.py and the README's \"gating on "
                           "what your agent says\").")

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, kind: str | None = None, value: Any = None) -> Any:
        token = self.peek()
        matches = token is not None and (kind is None or token[0] == kind) and (
            value is None or str(token[1]).lower() == value)
        if not matches:
            raise self.error("the end of the query" if token is None else repr(token[1]))
        self.at += 1
        return token[1]  # type: ignore[index]

    def accept(self, value: str) -> bool:
        token = self.peek()
        if token is not None and str(token[1]).lower() == value:
            self.at += 1
            return True
        return False

    def query(self) -> Query:
        if "|" in [t[1] for t in self.tokens if t[0] == "sym"]:
            self.search()
        self.take("word", "select")
        items = {}
        while True:
            aggregate = self.aggregate()
            self.take("word", "as")
            items[str(self.take("word")).lower()] = aggregate
            if not self.accept(","):
                break
        extra = next((name for name in items if name not in ("value", "samples")), None)
        if extra is not None or len(items) != 2:
            raise self.error(f"selecting {extra or 'anything but value and samples'!r}")
        if self.accept("from"):
            self.take("word", "log")
        where = []
        if self.accept("where"):
            where.append(self.condition())
            while self.accept("and"):
                where.append(self.condition())
        if self.peek() is not None:
            raise self.error(repr(self.peek()[1]))  # type: ignore[index]
        return Query(items["value"], items["samples"], tuple(where))

    def search(self) -> None:
        if self.accept("*"):
            self.take("sym", "|")
            return
        self.take("word", "__topic__")
        self.take("sym", ":")
        self.take()  # the topic: the request log is one topic
        self.take("sym", "|")

    def aggregate(self) -> Aggregate:
        name = str(self.take("word")).lower()
        if name not in _AGGREGATES:
            raise self.error(f"the function {name}()")
        self.take("sym", "(")
        if name == "count":
            self.take("sym", "*")
            result = Aggregate(name)
        elif name == "count_if":
            result = Aggregate(name, condition=self.condition())
        else:
            column = self.column()
            q = None
            if name == "approx_percentile":
                self.take("sym", ",")
                q = float(self.take("num"))
                if not 0 <= q <= 1:
                    raise self.error(f"the percentile {q:g}")
            result = Aggregate(name, column, q=q)
        self.take("sym", ")")
        return result

    def condition(self) -> Condition:
        column = self.column()
        op = self.take("sym")
        if op not in _OPS:
            raise self.error(f"the operator {op!r}")
        token = self.peek()
        if token is None or token[0] not in ("str", "num"):
            raise self.error("a condition without a literal value")
        self.at += 1
        return Condition(column, op, token[1])

    def column(self) -> str:
        name = str(self.take("word"))
        if name not in COLUMNS:
            raise self.error(f"the column {name!r}")
        return name


def request_rows(records: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The emulator's request-log records as FC's ``FCRequestMetrics`` columns."""
    return [{"versionId": str(r["version"]), "qualifier": str(r["endpoint"]), "statusCode": r["status"],
             "durationMs": r["latency_ms"], "__time__": r["ts"]} for r in records]


def _number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
