"""Location-aware YAML: check data loaded by :mod:`.yamlfile` (with line numbers) against a schema.

A *validator* is a callable ``(value, loc) -> plain value`` built by the factories below
(:func:`mapping`, :func:`string`, :func:`number`, ...). Every problem becomes one
:class:`ConfigError` paragraph naming the file, the line, the key path and, for an unknown
key, the nearest valid one. Values that came from a variable are never echoed in a message:
they may be secrets.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import secrets
from .errors import ConfigError
from .yamlfile import line_of

Validator = Callable[[Any, "Loc"], Any]


@dataclass(frozen=True)
class Loc:
    """Where a value sits: the file as shown to the user, the key path and the 1-based line."""

    file: str
    path: tuple[str | int, ...] = ()
    line: int | None = None

    @property
    def key_path(self) -> str:
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        return text

    def child(self, node: Any, key: str | int) -> Loc:
        return Loc(self.file, (*self.path, key), line_of(node, key) or self.line)

    def error(self, problem: str, fix: str = "") -> ConfigError:
        where = self.file + (f", line {self.line}" if self.line else "")
        what = f" {self.key_path}:" if self.path else ""
        return ConfigError(f"{where}:{what} {problem}" + (f" {fix}" if fix else ""))


# --- schema -------------------------------------------------------------------------------

class Substituted(str):
    """A string produced by a variable. Validators may read it as a number or boolean (an
    environment variable is always text) and show its template, never its value."""

    template: str = ""  # the text as written, e.g. "Bearer ${env('TOKEN')}"
    from_env: bool = False  # part of it came from the process environment, so it may be a secret


class Unset(Substituted):
    """``${env('X')}`` with X unset, in a value resolved only where a task uses it (a notify
    channel when it sends, ``agent.environmentVariables`` when it deploys): a task that never
    uses it runs. :meth:`error` is what the user sees once one does."""

    variable: str = ""
    where: Loc = Loc("")

    @classmethod
    def of(cls, variable: str, template: str, where: Loc) -> Unset:
        value = cls("")
        value.template, value.from_env, value.variable, value.where = template, True, variable, where
        return value

    def error(self) -> ConfigError:
        return self.where.error(f"{self.template} needs the environment variable {self.variable}, which is not set.",
                                unset_hint(self.variable))


def unset_hint(variable: str) -> str:
    """The one fix for an unset ``${env('X')}``, secret or not: a default would be refused for a secret."""
    return f"Set {variable} in the environment (in CI: a variable or secret of the pipeline)."


def plain(value: Any) -> Any:
    """Loaded or substituted values (LineDict, Substituted, ...) as plain dict/list/str/int/float/bool/None."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def show(value: Any) -> str:
    """A value for an error message; a substituted one is shown as its template."""
    if isinstance(value, Substituted):
        return f"the value of {value.template}"
    text = repr(plain(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({show(value)})"
    if isinstance(value, (int, float)):
        return f"a number ({show(value)})"
    if isinstance(value, str):
        return f"a string ({show(value)})"
    return "a list" if isinstance(value, list) else "a mapping"


def nearest(word: str, options: Iterable[str]) -> str | None:
    """The option a typo most likely meant: same letters ignoring case/_/-, else difflib's pick."""
    options = list(options)
    squash = lambda s: s.replace("_", "").replace("-", "").lower()  # noqa: E731
    for option in options:
        if squash(option) == squash(word):
            return option
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def mapping(fields: Mapping[str, Validator], *, required: Iterable[str] = (), extra: Validator | None = None,
            after: Callable[[dict, Any, Loc], None] | None = None) -> Validator:
    """A mapping with exactly ``fields`` (or any key, checked by ``extra``); absent keys stay absent."""
    required = tuple(required)

    def check(value: Any, loc: Loc) -> dict:
        if not isinstance(value, Mapping):
            raise loc.error(f"expected a mapping (key: value lines), got {_kind(value)}.")
        result = {}
        for key in value:
            at = loc.child(value, key)
            if not isinstance(key, str):  # e.g. `1: x`; show it as a key, not as a list index
                raise Loc(at.file, (*loc.path, str(key)), at.line).error(f"keys must be strings, got {show(key)}.")
            if key in fields:
                result[key] = fields[key](value[key], at)
            elif extra is not None:
                result[key] = extra(value[key], at)
            else:
                guess = nearest(key, fields)
                hint = f"Did you mean '{guess}'?" if guess else f"Valid keys here: {', '.join(fields)}."
                raise at.error(f"unknown key '{key}'.", hint)
        missing = [key for key in required if key not in result]
        if missing:
            where = loc.key_path or "the top level"
            raise loc.error(f"missing required key '{missing[0]}'.", f"Add {missing[0]}: under {where}.")
        if after is not None:
            after(result, value, loc)
        return result

    return check


def loose_mapping() -> Validator:
    """Any mapping, returned as plain values (for blocks validated by their consumer)."""
    return mapping({}, extra=lambda value, loc: plain(value))


def anything() -> Validator:
    return lambda value, loc: plain(value)


def nullable(inner: Validator) -> Validator:
    return lambda value, loc: None if value is None else inner(value, loc)


def seq(item: Validator, *, min_len: int = 0) -> Validator:
    def check(value: Any, loc: Loc) -> list:
        if not isinstance(value, list):
            raise loc.error(f"expected a list, got {_kind(value)}.")
        if len(value) < min_len:
            raise loc.error(f"needs at least {min_len} item(s).")
        return [item(v, loc.child(value, i)) for i, v in enumerate(value)]

    return check


def string(*, pattern: str | None = None, fix: str = "") -> Validator:
    def check(value: Any, loc: Loc) -> str:
        if not isinstance(value, str):
            raise loc.error(f"expected a string, got {_kind(value)}.", fix)
        if pattern is not None and not re.fullmatch(pattern, value):
            raise loc.error(f"{show(value)} is not valid here.", fix)
        return str(value)

    return check


def choice(options: Iterable[Any]) -> Validator:
    options = tuple(options)

    def check(value: Any, loc: Loc) -> Any:
        if isinstance(value, Substituted) and not all(isinstance(o, str) for o in options):
            value = _parse_number(value, loc)
        if isinstance(value, bool) or value not in options:
            guess = nearest(value, [o for o in options if isinstance(o, str)]) if isinstance(value, str) else None
            hint = f"Did you mean '{guess}'?" if guess else ""
            raise loc.error(f"{show(value)} is not one of: {', '.join(map(str, options))}.", hint)
        return plain(value)

    return check


def boolean() -> Validator:
    def check(value: Any, loc: Loc) -> bool:
        if isinstance(value, Substituted) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise loc.error(f"expected true or false, got {_kind(value)}.")
        return bool(value)

    return check


def _parse_number(value: Any, loc: Loc) -> Any:
    try:
        return float(value) if re.search(r"[.eE]", value) else int(value)
    except ValueError:
        raise loc.error(f"expected a number, got {show(value)}.") from None


def number(lo: float | None = None, hi: float | None = None, *, integral: bool = False, open_low: bool = False,
           open_high: bool = False) -> Validator:
    """A number within [lo, hi] (or open at either end); ``integral`` demands a whole number."""
    want = "a whole number" if integral else "a number"
    low = f"{'(' if open_low else '['}{'-inf' if lo is None else lo}"
    high = f"{'inf' if hi is None else hi}{')' if open_high else ']'}"

    def check(value: Any, loc: Loc) -> float | int:
        if isinstance(value, Substituted):
            value = _parse_number(value, loc)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integral and not isinstance(value, int)):
            raise loc.error(f"expected {want}, got {_kind(value)}.")
        if math.isnan(value) or (lo is not None and (value < lo or (open_low and value == lo))) or (
            hi is not None and (value > hi or (open_high and value == hi))
        ):
            raise loc.error(f"{show(value)} is out of range: it must be in {low}, {high}.")
        return int(value) if integral else float(value)

    return check


def integer(lo: int | None = None, hi: int | None = None) -> Validator:
    return number(lo, hi, integral=True)


def parsed(parse: Callable[[Any], Any], *, minimum: float | None = None) -> Validator:
    """A value read by ``parse`` (e.g. :func:`parse_duration`), which raises ConfigError."""

    def check(value: Any, loc: Loc) -> Any:
        if isinstance(value, bool) or value is None or isinstance(value, (Mapping, list)):
            raise loc.error(f"expected a value like 30s or 20MB, got {_kind(value)}.")
        try:
            result = parse(str(value) if isinstance(value, Substituted) else plain(value))
        except ConfigError as exc:
            if isinstance(value, Substituted):  # the parser quotes its input: never a variable's value
                raise loc.error(f"{show(value)} is not valid here (expected a value like 30s or 20MB).") from None
            raise loc.error(str(exc)) from None
        if minimum is not None and result < minimum:
            raise loc.error(f"{show(value)} is too small: it must be at least {minimum:g}.")
        return result

    return check


_SECRET_MIN_LEN = 8  # shorter values (info, true, 8080) are settings, and masking them would garble output


def env_value(value: Any, loc: Loc) -> str:
    """An agent environment variable: any scalar, as a string. One taken from the process
    environment through ``${env(...)}`` (as CI secrets are) is registered as a secret, so the
    redacting writer masks it wherever it is printed."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(loc.path[-1])):
        raise loc.error("is not a valid environment variable name.",
                        "Use letters, digits and '_', not a leading digit.")
    if isinstance(value, (Mapping, list)) or value is None:
        raise loc.error(f"expected a string value, got {_kind(value)}.")
    if isinstance(value, Unset):  # kept until a deploy sends it (agentspec.runtime_input)
        return value
    text = str(plain(value)).lower() if isinstance(value, bool) else str(plain(value))
    if isinstance(value, Substituted) and value.from_env and len(text) >= _SECRET_MIN_LEN:
        secrets.register(text)
    return text
