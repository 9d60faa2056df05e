"""Reading YAML as Serverless Devs (js-yaml) reads it, with lines, and refusing hostile documents fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.yamlfile import MAX_NODES, line_of, load_yaml


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def alias_bomb(levels: int = 9) -> str:
    """The classic "billion laughs": each level lists the previous one nine times (about 1 KB)."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_scalars_as_js_yaml_reads_them(tmp_path):
    data = load_yaml(write(tmp_path, "a: yes\nb: on\nc: 012\nd: 0x1F\ne: 1e3\nf: ~\ng: True\nh: 1_000\n"
                                     "i: 1:20\nj: 0o17\nk: '2024-01-02'\nl: 12345678901234567890\n"), "doc.yaml")
    assert data == {"a": "yes", "b": "on", "c": 12, "d": 31, "e": 1000.0, "f": None, "g": True, "h": 1000,
                    "i": "1:20", "j": 15, "k": "2024-01-02", "l": 1.2345678901234567e19}


def test_lines_of_keys_items_and_merged_keys(tmp_path):
    data = load_yaml(write(tmp_path, "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nl:\n  - 1\n  - 2\n"), "doc.yaml")
    assert data["m"] == {"x": 1, "y": 3}
    assert (line_of(data, "m"), line_of(data["m"], "y"), line_of(data["m"], "x"), line_of(data["l"], 1)) == (2, 4, 1, 7)


@pytest.mark.parametrize(("text", "line", "problem"), [
    pytest.param("a: 1\nb:\n  c: 2\n  c: 3\n", 4, "duplicate key 'c' (first at line 3)", id="duplicate"),
    pytest.param("a: !Ref b\n", 1, "YAML tag !Ref", id="custom-tag"),
    pytest.param("a: !!binary aGk=\n", 1, "YAML tag", id="binary-tag"),
    pytest.param("a: 2024-01-02\n", 1, "Quote it: '2024-01-02'", id="date"),
    pytest.param("a: &x [1, *x]\n", 1, "alias to itself", id="self-reference"),
    pytest.param("a: [1\n", 1, "not valid YAML", id="unclosed"),  # where the bracket opens, not the end
    pytest.param("a: 1\nagent: a\x01b\n", 2, "control character U+0001", id="control-character"),
    pytest.param("a: 'x\x00'\n", 1, "control character U+0000", id="nul"),
    pytest.param("a: 1\n\nb: \x7f\n", 3, "control character U+007F", id="delete"),
])
def test_refused_documents(tmp_path, text, line, problem):
    with pytest.raises(ConfigError) as info:
        load_yaml(write(tmp_path, text), "doc.yaml")
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"doc.yaml, line {line}: ")
    assert problem in str(info.value)


def test_alias_bomb_fails_fast_with_exit_2(tmp_path):
    text = alias_bomb()
    assert len(text) < 1100  # 9**10 values once expanded
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=f"expands to more than {MAX_NODES:,} values") as info:
        load_yaml(write(tmp_path, text), "doc.yaml")
    assert info.value.exit_code == 2
    assert time.perf_counter() - started < 2


def test_a_few_anchors_still_work(tmp_path):
    data = load_yaml(write(tmp_path, alias_bomb(levels=2)), "doc.yaml")
    assert len(data["a2"]) == 9
    assert data["a2"][0][0] == ["lol"] * 9


def test_alias_bomb_in_an_env_file_is_exit_2(tmp_path):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "dev.yaml").write_text(alias_bomb() + "region: cn-hangzhou\n")
    with pytest.raises(ConfigError, match=r"^envs/dev.yaml, line \d+: expands to more than"):
        load_env("dev", root=tmp_path, environ={})


TYPOS = [
    # id, text, the line of the typo (the parser notices each one a line or more later)
    ("key-without-colon-before-a-block", "region: x\nagent\n  name: a\nport: 1\n", 2),
    ("key-without-colon-before-a-key", "region cn-hangzhou\n\nagent:\n  name: a\n", 1),
    ("unclosed-quote", 'region: "x\nagent:\n  name: a\n', 1),
    ("unclosed-bracket", "steps: [0.1, 0.5\nagent: x\n", 1),
    ("over-indented-key", "agent:\n  name: a\n  url: http://x\n   port: 1\n", 4),
]


@pytest.mark.parametrize(("text", "line"), [t[1:] for t in TYPOS], ids=[t[0] for t in TYPOS])
def test_a_syntax_error_names_the_line_of_the_typo(tmp_path, text, line):
    path = tmp_path / "dev.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"^envs/dev.yaml, line {line}: is not valid YAML"):
        load_yaml(path, "envs/dev.yaml")
