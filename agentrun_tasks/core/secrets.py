"""The ``Secret`` value and the process-wide registry that output redaction reads.

A secret is masked in ``repr``/``str``/``format``; only :meth:`Secret.reveal` gives the value,
and every place that calls it is a place that hands the value to a child's ``env=``, a signing
SDK or a sink. Creating a secret registers it, so the one redacting writer can scrub it even if
some library echoes it back in an error message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import NoReturn

_MIN_REDACT_LEN = 4
_lock = threading.Lock()
_registered: set[str] = set()
_listeners: list[Callable[[str], None]] = []


def mask(value: str) -> str:
    """``LTAI****abcd``: enough to tell keys apart, never enough to use one."""
    if len(value) <= 8:
        return "****"
    return f"{value[:4]}****{value[-4:]}"


def tail(value: str) -> str:
    """``****WKHm``: a secret's last four characters at most (as ``aws configure list`` shows)."""
    return f"****{value[-4:]}" if len(value) > 8 else "****"


def register(value: str) -> None:
    """Make the redacting writer scrub ``value`` from now on (and tell CI dialects to mask it)."""
    if not value or len(value) < _MIN_REDACT_LEN:
        return
    with _lock:
        if value in _registered:
            return
        _registered.add(value)
        listeners = list(_listeners)
    for listener in listeners:
        listener(value)


def on_register(listener: Callable[[str], None]) -> None:
    """Call ``listener(value)`` for each secret registered from now on (used for ``::add-mask::``)."""
    with _lock:
        _listeners.append(listener)
        known = list(_registered)
    for value in known:
        listener(value)


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` by its mask, longest first."""
    if not text:
        return text
    with _lock:
        values = sorted(_registered, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, mask(value))
    return text


class Secret:
    """A string that never shows itself by accident."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        if not isinstance(value, str):
            raise TypeError("Secret value must be a str")
        self._value = value
        self.source = source
        register(value)

    def reveal(self) -> str:
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    @property
    def tail(self) -> str:
        """The last four characters at most: how a secret (not an id) is shown on purpose."""
        return tail(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is not pickled: it would leave the process unmasked")
