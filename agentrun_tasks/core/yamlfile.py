"""Read a YAML file the way Serverless Devs does, keeping the line of every key and item.

PyYAML composes the document into nodes that carry their marks; this module builds plain
dicts and lists from those nodes (:class:`Lines` subclasses that remember the 1-based line of
each key or item). Scalars are resolved as js-yaml (the parser of ``s``) resolves them, YAML 1.2
style: ``yes``/``on`` stay strings, ``012`` is twelve. What js-yaml refuses is refused here:
duplicate keys and unknown tags. Anchors and aliases work, but a document whose aliases would
expand past :data:`MAX_NODES` nodes (the "billion laughs" bomb), or that refers to itself, is
refused before anything walks it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ConfigError

MAX_ALIASES = 1_000
"""Aliases (``*name``) one document may use; real s.yaml files use a handful."""
MAX_NODES = 100_000
MAX_DEPTH = 100  # nesting levels; an env file or s.yaml needs fewer than ten
"""Nodes the document may hold once every alias is expanded (an env file has about a hundred)."""

_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_NULL, _BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float"))
_TIMESTAMP, _MERGE = "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"


class _Resolver(yaml.resolver.BaseResolver):
    """js-yaml's default schema (YAML 1.2 core, plus timestamps and ``<<`` merges)."""


for _tag, _pattern, _first in (
    (_NULL, r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    (_BOOL, r"true|True|TRUE|false|False|FALSE", list("tTfF")),
    (_INT, r"[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)", list("-+0123456789")),
    (_FLOAT, (r"[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"), list("-+0123456789.")),
    (_TIMESTAMP, (r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}"
                  r":[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"), list("0123456789")),
    (_MERGE, r"<<", ["<"]),
):
    _Resolver.add_implicit_resolver(_tag, re.compile(f"^(?:{_pattern})$"), _first)

try:  # libyaml's parser when PyYAML was built with it: the same nodes, faster
    from yaml import CParser as _Parser

    class _Loader(_Parser, _Resolver):
        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            _Resolver.__init__(self)
except ImportError:  # pragma: no cover - pure-Python PyYAML
    class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,  # type: ignore[no-redef]
                  yaml.composer.Composer, _Resolver):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Resolver.__init__(self)


class LineDict(dict):
    """A mapping that remembers the 1-based line of each key (``lines[key]``)."""

    lines: dict


class LineList(list):
    """A list that remembers the 1-based line of each item (``lines[index]``)."""

    lines: list


def line_of(node: Any, key: str | int) -> int | None:
    """The line of ``key`` in a mapping, or of item ``key`` in a list, if known."""
    lines = getattr(node, "lines", None)
    try:
        return lines[key] if lines is not None else None
    except (KeyError, IndexError, TypeError):
        return None


def load_yaml(path: Path, display: str) -> Any:
    """Plain data from the YAML file at ``path`` (named ``display`` in messages); every
    problem is one :class:`ConfigError` paragraph with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{display}: cannot be read ({exc}). Check that it is a readable UTF-8 file.") from None
    loader = None
    try:
        loader = _Loader(text)  # the pure-Python reader checks the characters here, libyaml's later
        root = loader.get_single_node()
    except yaml.reader.ReaderError as exc:  # a control character: not printable YAML
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{display}, line {line}: holds the control character U+{exc.character:04X}, which YAML "
                          "does not allow. Remove it: editors often show it as a box or as ^ and a letter.") from None
    except yaml.MarkedYAMLError as exc:
        mark = _typo_mark(exc, text)
        problem = (exc.problem or exc.context or "invalid YAML").split("\n")[0]
        raise _error(display, mark, f"is not valid YAML: {problem}.",
                     "Fix the syntax there: wrong indentation, a missing ':' or space after it, an unclosed "
                     "quote or bracket are the usual causes.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{display}: is not valid YAML: {exc}.") from None
    except RecursionError:  # the composer recurses per level: thousands of '[' end here
        raise ConfigError(f"{display}: nests collections more than {MAX_DEPTH} levels deep. Flatten it: no "
                          "settings file needs that depth.") from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        return None
    _check_size(root, display)
    return _Builder(display).build(root)


def _typo_mark(exc: yaml.MarkedYAMLError, text: str) -> Any:
    """Where the typo most likely is. The parser notices a missing ':' or an unclosed quote or
    bracket only on a later line; the start of the unfinished key, string or collection (its
    context mark) is where the user must look. A key line without ':' followed by a good key
    line is read as one multi-line value, refused at the second line: the typo is the first."""
    mark = exc.problem_mark or exc.context_mark
    unfinished = (exc.context or "").startswith(("while scanning", "while parsing a flow"))
    if unfinished and exc.context_mark is not None and exc.problem_mark is not None \
            and exc.context_mark.line < mark.line:
        return exc.context_mark
    if mark is not None and exc.problem == "mapping values are not allowed here" and mark.line > 0:
        above = [n for n in range(mark.line - 1, -1, -1) if text.splitlines()[n].strip()]
        if above and ":" not in text.splitlines()[above[0]]:
            return _at_line(mark, above[0])
    return mark


def _at_line(mark: Any, line: int) -> Any:
    return yaml.Mark(mark.name, mark.index, line, 0, mark.buffer, mark.pointer)


def _error(display: str, mark: Any, problem: str, fix: str = "") -> ConfigError:
    where = f"{display}, line {mark.line + 1}" if mark is not None else display
    return ConfigError(f"{where}: {problem}" + (f" {fix}" if fix else ""))


def _check_size(root: Node, display: str) -> None:
    """Refuse alias bombs and self-references by counting the expanded tree on the node graph
    (memoised per node, so a bomb is measured in microseconds instead of being expanded)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    aliases = 0

    def size(node: Node, depth: int = 1) -> int:
        nonlocal aliases
        if depth > MAX_DEPTH:
            raise _error(display, node.start_mark, f"nests collections more than {MAX_DEPTH} levels deep.",
                         "Flatten it: no settings file needs that depth.")
        key = id(node)
        if key in sizes:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _error(display, node.start_mark, f"uses more than {MAX_ALIASES} aliases (*name).",
                             "Write the values out, or use fewer anchors: this looks like an alias bomb.")
            return sizes[key]
        if key in open_nodes:
            raise _error(display, node.start_mark, "an anchor (&name) contains an alias to itself.",
                         "A value cannot include itself; remove the alias.")
        open_nodes.add(key)
        children: list = []
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        total = 1 + sum(size(child, depth + 1) for child in children)
        open_nodes.discard(key)
        if total > MAX_NODES:
            raise _error(display, node.start_mark, f"expands to more than {MAX_NODES:,} values through its aliases.",
                         "Write it without nested anchors: this looks like an alias bomb.")
        sizes[key] = total
        return total

    size(root)


class _Builder:
    """Nodes to LineDict / LineList / scalars, as js-yaml would construct them."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.built: dict[int, Any] = {}
        self.merger = yaml.constructor.SafeConstructor()

    def build(self, node: Node) -> Any:
        key = id(node)
        if key not in self.built:  # an alias shares its anchor's value, as in js-yaml
            self.built[key] = self._build(node)
        return self.built[key]

    def _build(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            self._tag(node, _SEQ)
            items = LineList(self.build(child) for child in node.value)
            items.lines = [child.start_mark.line + 1 for child in node.value]
            return items
        self._tag(node, _MAP)
        self._duplicates(node)
        try:
            self.merger.flatten_mapping(node)  # `<<: *defaults`; keys written out win over merged ones
        except yaml.MarkedYAMLError as exc:
            raise _error(self.display, exc.problem_mark, f"cannot merge with '<<': {exc.problem}.") from None
        result = LineDict()
        result.lines = {}
        for key_node, value_node in node.value:
            key = self.build(key_node)
            if isinstance(key, (dict, list)):
                raise _error(self.display, key_node.start_mark, "a key is a mapping or list; keys must be scalars.")
            result[key] = self.build(value_node)
            result.lines[key] = key_node.start_mark.line + 1
        return result

    def _duplicates(self, node: MappingNode) -> None:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                continue
            key = self._scalar(key_node)
            if key in seen:
                raise _error(self.display, key_node.start_mark,
                             f"is not valid YAML: duplicate key '{key}' (first at line {seen[key]}).",
                             "Remove one of them: Serverless Devs refuses repeated keys too.")
            seen[key] = key_node.start_mark.line + 1

    def _tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise _error(self.display, node.start_mark, f"uses the YAML tag {node.tag}, which is not read here.",
                         "Remove the tag: plain YAML values only, as Serverless Devs reads them.")

    def _scalar(self, node: ScalarNode) -> Any:
        text, tag = node.value, node.tag
        if tag in (_STR, _MERGE):
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() == "true"
        if tag == _INT:
            return _integer(text)
        if tag == _FLOAT:
            return _float(text)
        if tag == _TIMESTAMP:
            raise _error(self.display, node.start_mark, f"{text} is read as a YAML date, which Serverless Devs "
                         "turns into an empty mapping.", f"Quote it: '{text}'.")
        raise _error(self.display, node.start_mark, f"uses the YAML tag {tag}, which is not read here.",
                     "Remove the tag: plain YAML values only, as Serverless Devs reads them.")


def _integer(text: str) -> int | float:
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2], 10)
    value = sign * int(digits[2:] if base != 10 else digits, base)
    return value if abs(value) <= 2**53 else float(value)  # a JavaScript number, as js-yaml gives s


def _float(text: str) -> float:
    lowered = text.replace("_", "").lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(lowered)
