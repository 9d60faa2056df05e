"""release.checks: the schema (one clear error per kind of bad input, at load) and the verdict
on one answer or one exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun_tasks.core import secrets
from agentrun_tasks.core.checks import EACH_STEP, PRE_ROLLOUT, answer_text, build, judge, judge_exit, rows
from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError

ENV = """\
region: cn-hangzhou
agent:
  name: demo
  code: {src: code, language: python3.12, command: [python3, app.py]}
release:
  checks:
"""


def load(tmp_path: Path, checks: str):
    (tmp_path / "envs").mkdir(exist_ok=True)
    (tmp_path / "envs" / "dev.yaml").write_text(ENV + checks, encoding="utf-8")
    return load_env("dev", root=tmp_path, environ={})


def completion(text: str) -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()


def check(**expect):
    return build([{"name": "c", "prompt": "hi", "expect": expect}])[0]


def test_checks_load_with_their_defaults(tmp_path):
    cfg = load(tmp_path, """\
    - name: greets-in-chinese
      prompt: "你好，请介绍一下你自己"
      expect: {status: 200, contains: ["你好"], max_ms: 5000}
    - name: system
      messages: [{role: system, content: "Be brief."}, {role: user, content: hi}]
      model: gpt
      stream: true
      timeout: 5s
      when: [each-step, pre-rollout]
    - name: evals
      command: [python, -m, pytest, -q, evals/]
      when: [pre-rollout, each-step]
""")
    greets, system, evals = cfg.release.checks
    assert greets.kind == "prompt"
    assert greets.messages == (("user", "你好，请介绍一下你自己"),)
    assert greets.when == (PRE_ROLLOUT,)
    assert greets.timeout == 30.0
    assert greets.expect.contains == ("你好",)
    assert greets.expect.max_ms == 5000
    assert greets.expect.status == 200
    assert system.messages[0] == ("system", "Be brief.")
    assert system.stream
    assert system.timeout == 5.0
    assert system.when == (EACH_STEP, PRE_ROLLOUT)
    assert system.model == "gpt"
    assert evals.kind == "command"
    assert evals.command == ("python", "-m", "pytest", "-q", "evals/")
    assert evals.timeout == 300.0


@pytest.mark.parametrize(("checks", "problem"), [
    pytest.param("    - name: a\n      prompt: hi\n      expected: {}\n",
                 "release.checks[0].expected: unknown key 'expected'. Did you mean 'expect'?", id="unknown-field"),
    pytest.param("    - name: a\n      prompt: hi\n      expect: {contain: [x]}\n",
                 "release.checks[0].expect.contain: unknown key 'contain'. Did you mean 'contains'?",
                 id="unknown-expect-field"),
    pytest.param("    - name: a\n      command: [x]\n      expect: {status: 200}\n",
                 "release.checks[0].expect: unknown key 'expect'", id="expect-on-a-command"),
    pytest.param("    - name: a\n      command: python -m pytest\n",
                 "release.checks[0].command: must be a list", id="command-not-a-list"),
    pytest.param("    - name: a\n      command: []\n", "release.checks[0].command: needs at least 1",
                 id="empty-command"),
    pytest.param("    - name: a\n      prompt: '  '\n", "release.checks[0].prompt: is empty", id="empty-prompt"),
    pytest.param("    - name: a\n      prompt: hi\n      expect: {regex: '(unclosed'}\n",
                 "release.checks[0].expect.regex: is not a regular expression", id="bad-regex"),
    pytest.param("    - name: a\n", "release.checks[0]: a check needs exactly one of prompt, messages or command",
                 id="nothing-to-send"),
    pytest.param("    - name: a\n      prompt: hi\n      command: [x]\n", "it has prompt and command",
                 id="two-kinds"),
    pytest.param("    - prompt: hi\n", "missing required key 'name'", id="no-name"),
    pytest.param("    - {name: a, prompt: x}\n    - {name: a, prompt: y}\n", "two checks are named 'a'",
                 id="duplicate-name"),
    pytest.param("    - name: a\n      prompt: hi\n      when: [before]\n", "'before' is not one of: pre-rollout",
                 id="unknown-phase"),
    pytest.param("    - name: a\n      prompt: hi\n      expect: {json_fields: {a: [1]}}\n",
                 "release.checks[0].expect.json_fields.a: expected a plain value", id="json-field-not-scalar"),
    pytest.param("    - name: a b\n      prompt: hi\n", "release.checks[0].name", id="bad-name"),
])
def test_bad_checks_fail_at_load_naming_the_field(tmp_path, checks, problem):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, checks)
    assert problem in str(error.value)
    assert "envs/dev.yaml, line" in str(error.value)
    assert error.value.exit_code == 2


@pytest.mark.parametrize(("expect", "status", "body", "latency", "ok", "says"), [
    ({}, 200, completion("Hello"), 10, True, 'HTTP 200: "Hello"'),
    ({}, 500, b'{"error": "boom"}', 10, False, "expected HTTP 200; got HTTP 500"),
    ({"status": 404}, 404, b"nope", 10, True, "HTTP 404"),
    ({"contains": ["你好", "agent"]}, 200, completion("你好, I am an agent"), 10, True, ""),
    ({"contains": ["你好"]}, 200, completion("Hello"), 10, False, "expected the answer to contain '你好'"),
    ({"not_contains": ["SYSTEM PROMPT"]}, 200, completion("My SYSTEM PROMPT is"), 10, False,
     "expected the answer not to contain 'SYSTEM PROMPT'"),
    ({"regex": r"^\d+$"}, 200, completion("42"), 10, True, ""),
    ({"regex": r"^\d+$"}, 200, completion("forty-two"), 10, False, r"expected the answer to match /^\d+$/"),
    ({"json": True}, 200, completion('{"a": 1}'), 10, True, ""),
    ({"json": True}, 200, completion("not json"), 10, False, "expected the answer to be JSON"),
    ({"json_fields": {"tool.name": "search", "hits.1": 2}}, 200,
     completion('{"tool": {"name": "search"}, "hits": [1, 2]}'), 10, True, ""),
    ({"json_fields": {"tool.name": "search"}}, 200, completion('{"tool": {"name": "lookup"}}'), 10, False,
     'expected JSON field tool.name = "search" (it is "lookup")'),
    ({"json_fields": {"lang": "zh"}}, 200, completion("{}"), 10, False, "(it is missing)"),
    ({"max_ms": 100}, 200, completion("ok"), 250, False, "expected an answer within 100 ms, it took 250 ms"),
], ids=["ok", "status", "other-status", "contains", "missing", "not-contains", "regex", "regex-miss", "json",
        "not-json", "json-fields", "json-field-differs", "json-field-missing", "too-slow"])
def test_the_verdict_on_one_answer(expect, status, body, latency, ok, says):
    outcome = judge(check(**expect), status, body, latency)
    assert outcome.ok is ok
    assert says in outcome.detail


def test_a_streamed_answer_is_judged_on_its_joined_chunks():
    chunks = [{"choices": [{"delta": {"role": "assistant"}}]}, {"choices": [{"delta": {"content": "你"}}]},
              {"choices": [{"delta": {"content": "好"}}]}]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    assert answer_text(body.encode()) == ("你好", True)
    assert judge(check(contains=["你好"]), 200, body.encode(), 5).ok


def test_no_answer_says_why():
    outcome = judge(check(), None, b"", 3000.0, "timed out")
    assert not outcome.ok
    assert outcome.detail == "expected HTTP 200; got no answer (timed out)"


def test_a_long_answer_is_quoted_short():
    outcome = judge(check(contains=["never"]), 200, completion("x" * 5000), 5)
    assert len(outcome.detail) < 300
    assert outcome.detail.endswith('..."')


def test_a_secret_in_what_came_back_is_masked():
    sentinel = "sk-SENTINEL-check-0123456789"
    secrets.register(sentinel)
    leaked = judge(check(not_contains=["sk-"]), 200, completion(f"my key is {sentinel}"), 5)
    ran = judge_exit(build([{"name": "e", "command": ["x"]}])[0], 1, f"token {sentinel}\n", 1.0)
    for outcome in (leaked, ran):
        assert not outcome.ok
        assert sentinel not in outcome.detail
        assert sentinel not in json.dumps(outcome.to_dict())
        assert sentinel[-4:] in outcome.detail  # masked, not dropped: still recognisable


def test_a_command_passes_on_exit_0_only():
    evals = build([{"name": "evals", "command": ["pytest"], "timeout": 60}])[0]
    assert judge_exit(evals, 0, "5 passed", 2.0).ok
    failed = judge_exit(evals, 1, "1 failed, 4 passed\n", 2.0)
    assert not failed.ok
    assert failed.detail == 'exit 1, expected 0 ("1 failed, 4 passed")'
    stopped = judge_exit(evals, None, "", 60.0)
    assert not stopped.ok
    assert "within 60s" in stopped.detail
    assert "no output" in stopped.detail


def test_outcomes_are_rows_of_the_step_table():
    ok = judge(check(max_ms=5000), 200, completion("hi"), 120.0)
    bad = judge(check(), 500, b"", 8.0)
    table = rows([ok, bad])
    assert [(r.metric, r.verdict, r.threshold, r.unit, r.gate) for r in table] == [
        ("check c", "pass", 5000, "ms", "checks"), ("check c", "fail", None, "ms", "checks")]
    assert table[1].detail.startswith("expected HTTP 200; got HTTP 500")
