"""Durations and sizes as env files and task flags write them (``5m``, ``1h30m``, ``20MB``), with
the limits that keep a typo from meaning "wait forever" or "upload a terabyte"."""

from __future__ import annotations

import math
import re

from .errors import ConfigError

__all__ = ["MAX_DURATION", "MAX_SIZE", "MAX_WAIT", "parse_duration", "parse_size"]

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_UNITS = ("d", "h", "m", "s", "ms")  # largest first: the only order a compound duration is written in
_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?", re.IGNORECASE)
_BYTES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration(text: str | float, *, maximum: float | None = None) -> float:
    """Seconds from ``30s``, ``5m``, ``1h``, ``1h30m``, ``250ms``, ``2d`` or a number of seconds,
    at most ``maximum`` (default :data:`MAX_DURATION`): nothing may wait forever."""
    limit = MAX_DURATION if maximum is None else maximum
    if isinstance(text, (int, float)) and not isinstance(text, bool) and math.isfinite(text) and text >= 0:
        return _at_most(float(text), limit, text)
    raw = str(text).strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return _at_most(float(raw), limit, text)
    parts = _duration_parts(raw)
    if parts:
        return _at_most(sum(float(n) * _SECONDS[unit] for n, unit in parts), limit, text)
    raise ConfigError(f"{text!r} is not a duration: write one, as 30s, 5m, 1h, 1h30m or a number of seconds "
                      "(each unit once, largest first; only the last part may have a fraction).")


def _duration_parts(raw: str) -> list[tuple[str, str]]:
    """``[(number, unit)]`` of one well-formed duration, else []: ``1h1h``, ``30m1h`` and ``1.5h30m``
    are typos that a sum would turn into a plausible wait, so they are refused."""
    parts = _PART.findall(raw)
    if not parts or "".join(n + u for n, u in parts) != raw:
        return []
    order = [_UNITS.index(unit) for _, unit in parts]
    if order != sorted(set(order)) or any("." in n for n, _ in parts[:-1]):
        return []
    return parts


def parse_size(text: str | int) -> int:
    """Bytes from ``512KB``, ``20MB``, ``1GB`` (1024-based; ``MiB`` and ``M`` are the same) or a
    number, at most :data:`MAX_SIZE`."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return int(_at_most(text, MAX_SIZE, text))
    match = _SIZE.fullmatch(str(text).strip())
    if not match:
        raise ConfigError(f"{text!r} is not a size: write 512KB, 20MB, 1GB or a number of bytes.")
    return int(_at_most(float(match.group(1)) * _BYTES[match.group(2).lower()], MAX_SIZE, text, size=True))


MAX_DURATION = 366 * 86400.0  # a year: key ages; anything longer is a typo
MAX_WAIT = 86400.0  # a day: what a deploy or a release may wait, production split meanwhile
MAX_SIZE = 10 * 1024**3


def _at_most(value: float, limit: float, text: object, *, size: bool = False) -> float:
    if not value <= limit:  # also refuses inf and nan
        shown = f"{limit / 1024**3:g}GB" if size else (f"{limit / 86400:g}d" if limit >= 86400 else f"{limit:g}s")
        raise ConfigError(f"{text!r} is more than the limit of {shown}: write a smaller value.")
    return value
