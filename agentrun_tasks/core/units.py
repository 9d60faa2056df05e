"""Durations and sizes as env files and task flags write them (``5m``, ``1h30m``, ``20MB``), with
the limits that keep a typo from meaning "wait forever" or "upload a terabyte"."""

from __future__ import annotations

import math
import re

from .errors import ConfigError

__all__ = ["MAX_DURATION", "MAX_SIZE", "MAX_WAIT", "parse_duration", "parse_size"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
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
    if raw and re.fullmatch(f"(?:{_DURATION_PART.pattern})+", raw):
        return _at_most(sum(float(n) * _SECONDS[unit] for n, unit in _DURATION_PART.findall(raw)), limit, text)
    raise ConfigError(f"{text!r} is not a duration: write 30s, 5m, 1h (or 1h30m) or a number of seconds.")


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
