"""Acceptance checks (``release.checks``): what the candidate must say, or the user's own
program must accept, on the candidate-only endpoint before it gets traffic (and at each step
where asked). The schema, the typed checks, and the verdict on one answer; running them is
``flows/release/checks.py``.

::

    release:
      checks:
        - name: greets-in-chinese          # letters, digits, '.', '-', '_'; unique
          prompt: "你好，请介绍一下你自己"     # or messages: [{role: system, content: ...}, ...]
          model: agent                     # [health.model]
          stream: false                    # [false] true: server-sent chunks, joined
          expect: {status: 200, contains: ["你好"], not_contains: [], regex: "^.+$",
                   json: false, json_fields: {lang: zh}, max_ms: 5000}   # [status: 200]
          timeout: 30s                     # [30s] one request
          when: [pre-rollout, each-step]   # [pre-rollout]
        - name: evals
          command: [python, -m, pytest, -q, evals/]   # argv; exit 0 passes
          timeout: 10m                     # [5m]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import secrets
from .analysis import FAIL, PASS, MetricRow
from .validate import Loc, Validator, boolean, choice, integer, mapping, number, seq, string

PRE_ROLLOUT, EACH_STEP = "pre-rollout", "each-step"
PHASES = (PRE_ROLLOUT, EACH_STEP)
SHOWN = 200  # characters of an answer a verdict quotes


@dataclass(frozen=True)
class Expect:
    """What a good answer is. ``text`` means the chat completion's message (chunks joined when
    streamed), or the raw body when the answer is not a completion (an error page)."""

    status: int = 200
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    regex: str | None = None  # re.search over the text
    json: bool = False  # the text parses as JSON
    json_fields: tuple[tuple[str, Any], ...] = ()  # dotted path into that JSON -> expected value
    max_ms: float | None = None


@dataclass(frozen=True)
class Check:
    """One check: a prompt check (``messages``) or a command check (``command``)."""

    name: str
    when: tuple[str, ...] = (PRE_ROLLOUT,)
    timeout: float = 30.0
    messages: tuple[tuple[str, str], ...] = ()  # (role, content)
    model: str | None = None  # None: the health check's model
    stream: bool = False
    expect: Expect = Expect()
    command: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "command" if self.command else "prompt"


@dataclass(frozen=True)
class Outcome:
    """A check's result: ``detail`` says what was expected and what came back (redacted)."""

    name: str
    kind: str
    ok: bool
    detail: str
    latency_ms: float | None = None
    max_ms: float | None = None  # the latency bound, if the check has one

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "ok": self.ok, "detail": self.detail,
                "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1)}


# --- schema -----------------------------------------------------------------------------------

def _non_empty(value: Any, loc: Loc) -> str:
    text = string()(value, loc)
    if not text.strip():
        raise loc.error("is empty: a check must send something.")
    return text


def _regex(value: Any, loc: Loc) -> str:
    text = string()(value, loc)
    try:
        re.compile(text)
    except re.error as exc:
        raise loc.error(f"is not a regular expression Python can compile ({exc}).") from None
    return text


def _argv(value: Any, loc: Loc) -> list:
    if not isinstance(value, list):
        raise loc.error("must be a list (the program and its arguments, no shell), e.g. "
                        "command: [python, -m, pytest, -q, evals/].")
    return seq(_non_empty, min_len=1)(value, loc)


def _scalar(value: Any, loc: Loc) -> Any:
    if isinstance(value, (Mapping, list)):
        raise loc.error("expected a plain value (string, number, boolean or null) to compare the field with.")
    return value if value is None or isinstance(value, (bool, int, float)) else str(value)


_EXPECT = mapping({
    "status": integer(100, 599),
    "contains": seq(_non_empty),
    "not_contains": seq(_non_empty),
    "regex": _regex,
    "json": boolean(),
    "json_fields": mapping({}, extra=_scalar),
    "max_ms": number(0, None, open_low=True),
})
_MESSAGE = mapping({"role": choice(("system", "user", "assistant")), "content": _non_empty},
                   required=("role", "content"))
_COMMON = {"name": string(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
                          fix="A check name holds letters, digits, '.', '-' and '_'."),
           "when": seq(choice(PHASES), min_len=1)}


def schema(duration: Validator) -> Validator:
    """The validator of ``release.checks``; ``duration`` checks a ``timeout`` like ``30s``."""
    prompt = mapping({**_COMMON, "prompt": _non_empty, "messages": seq(_MESSAGE, min_len=1), "model": string(),
                      "stream": boolean(), "expect": _EXPECT, "timeout": duration}, required=("name",))
    command = mapping({**_COMMON, "command": _argv, "timeout": duration}, required=("name",))

    def check(value: Any, loc: Loc) -> dict:
        if not isinstance(value, Mapping):
            raise loc.error("expected a check: a mapping with name and prompt, messages or command.")
        given = [key for key in ("prompt", "messages", "command") if key in value]
        if len(given) != 1:
            raise loc.error(f"a check needs exactly one of prompt, messages or command; it has "
                            f"{' and '.join(given) or 'none'}.")
        return (command if given == ["command"] else prompt)(value, loc)

    def unique(checks: list, loc: Loc) -> list:
        names = [c["name"] for c in checks]
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None:
            raise loc.error(f"two checks are named {twice!r}; names must be unique (they name rows and failures).")
        return checks

    return lambda value, loc: unique(seq(check)(value, loc), loc)


def build(data: Any) -> tuple[Check, ...]:
    """Typed checks from the validated ``release.checks`` list."""
    return tuple(_build(item) for item in data or ())


def _build(item: Mapping[str, Any]) -> Check:
    when = tuple(dict.fromkeys(item.get("when", (PRE_ROLLOUT,))))
    if "command" in item:
        return Check(item["name"], when, item.get("timeout", 300.0), command=tuple(item["command"]))
    messages = item.get("messages") or [{"role": "user", "content": item["prompt"]}]
    expect = dict(item.get("expect", {}))
    for key in ("contains", "not_contains"):
        expect[key] = tuple(expect.get(key, ()))
    expect["json_fields"] = tuple(expect.get("json_fields", {}).items())
    return Check(item["name"], when, item.get("timeout", 30.0), tuple((m["role"], m["content"]) for m in messages),
                 item.get("model"), item.get("stream", False), Expect(**expect))


# --- one answer -------------------------------------------------------------------------------

def request_body(check: Check, default_model: str) -> dict:
    """An OpenAI chat-completion request for a prompt check."""
    return {"model": check.model or default_model, "stream": check.stream,
            "messages": [{"role": role, "content": content} for role, content in check.messages]}


def answer_text(body: bytes) -> tuple[str, bool]:
    """``(text, is_completion)``: a completion's message, the joined deltas of a streamed one
    (server-sent ``data:`` lines), else the body as text."""
    raw = body.decode(errors="replace")
    try:
        return str(json.loads(raw)["choices"][0]["message"]["content"]), True
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    parts, streamed = [], False
    for line in raw.splitlines():
        data = line[5:].strip() if line.startswith("data:") else None
        if not data or data == "[DONE]":
            continue
        try:
            parts.append(json.loads(data)["choices"][0]["delta"].get("content") or "")
            streamed = True
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return raw, False
    return ("".join(parts), True) if streamed else (raw, False)


def judge(check: Check, status: int | None, body: bytes, latency_ms: float, error: str = "") -> Outcome:
    """The verdict on one answer (``status`` None: no answer, ``error`` says why)."""
    expect = check.expect
    if status is None:
        return _outcome(check, False, f"expected HTTP {expect.status}; got no answer ({error})", latency_ms)
    text, _completion = answer_text(body)
    got = f"HTTP {status}: {_quote(secrets.redact(text))}"
    failed = _first_failure(expect, status, text, latency_ms)
    return _outcome(check, failed is None, f"{failed}; got {got}" if failed else got, latency_ms)


def judge_exit(check: Check, returncode: int | None, output: str, seconds: float) -> Outcome:
    """The verdict on a command check: exit 0 passes (``returncode`` None: it ran out of time)."""
    tail = _quote(secrets.redact(output.strip())[-SHOWN:]) if output.strip() else "no output"
    if returncode is None:
        detail = f"expected exit 0 within {check.timeout:g}s; it was still running and was stopped ({tail})"
    else:
        detail = f"exit {returncode}" + ("" if returncode == 0 else f", expected 0 ({tail})")
    return Outcome(check.name, "command", returncode == 0, secrets.redact(detail), seconds * 1000.0)


def _first_failure(expect: Expect, status: int, text: str, latency_ms: float) -> str | None:
    if status != expect.status:
        return f"expected HTTP {expect.status}"
    missing = next((word for word in expect.contains if word not in text), None)
    if missing is not None:
        return f"expected the answer to contain {missing!r}"
    present = next((word for word in expect.not_contains if word in text), None)
    if present is not None:
        return f"expected the answer not to contain {present!r}"
    if expect.regex is not None and not re.search(expect.regex, text):
        return f"expected the answer to match /{expect.regex}/"
    if expect.json or expect.json_fields:
        try:
            document = json.loads(text)
        except ValueError:
            return "expected the answer to be JSON"
        for path, wanted in expect.json_fields:
            found, value = _field(document, path)
            if not found or value != wanted:
                return f"expected JSON field {path} = {json.dumps(wanted, ensure_ascii=False)}" + (
                    f" (it is {json.dumps(value, ensure_ascii=False)[:60]})" if found else " (it is missing)")
    if expect.max_ms is not None and latency_ms > expect.max_ms:
        return f"expected an answer within {expect.max_ms:g} ms, it took {latency_ms:.0f} ms"
    return None


def _field(document: Any, path: str) -> tuple[bool, Any]:
    """``a.b.0.c`` into a JSON document: (found, value)."""
    for part in path.split("."):
        if isinstance(document, Mapping) and part in document:
            document = document[part]
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return False, None
    return True, document


def rows(outcomes: Iterable[Outcome]) -> list[MetricRow]:
    """The checks as rows of the step table (:class:`.analysis.MetricRow`): latency, the bound
    (``max_ms``), pass or fail, and what was expected and came back."""
    return [MetricRow(f"check {o.name}", o.latency_ms, None, o.max_ms, PASS if o.ok else FAIL, o.detail, "checks",
                      "ms") for o in outcomes]


def _quote(text: str) -> str:
    """The text on one line, shortened, in quotes (not escaped: a JSON error body stays readable)."""
    flat = " ".join(text.split())
    return '"' + (flat if len(flat) <= SHOWN else flat[:SHOWN] + "...") + '"'


def _outcome(check: Check, ok: bool, detail: str, latency_ms: float) -> Outcome:
    return Outcome(check.name, "prompt", ok, secrets.redact(detail), latency_ms, check.expect.max_ms)
