"""How strict and how faulty the emulator is: latencies and injected faults, set per test.

Set at start by ``AGENTRUN_EMULATOR_FAULTS="latency=0,throttle=0.3"`` or at run time by
``POST /_emulator/faults`` with ``{"throttle": 0.3}`` (a POST changes only the fields it names).

The cloud's own behaviours are always on: endpoints go CREATING/UPDATING -> READY with their
URL set only once READY, writes while the runtime is busy are refused (400), "already exists"
comes back as 400, 409 or 500 depending on the resource, weights round-trip through float32,
and a runtime with ``credentialName`` wants its credential in ``X-API-Key``. What the settings
change:

- ``latency``: scale of the cloud-like durations (an endpoint write takes ``ENDPOINT_WRITE_S``,
  a runtime create/update ``RUNTIME_UPDATE_S`` more than its process start). 1 is the default,
  0 is instant (the states are still passed through: the answer of a write is never READY).
- ``throttle``, ``error5xx``: rates of HTTP 429 ``Throttling`` (with ``x-acs-retry-after``:
  tea-openapi's ``ThrottlingException``) and 503 ``ServiceUnavailable`` on signed calls.
- ``lose_answer``: rate of mutating control calls that are carried out but whose answer is
  lost (the connection is cut), as a read timeout loses it.
- ``placeholder_weights`` (0/1): an endpoint without a split shows
  ``versionWeights: [{"version": "", "weight": 0}]``.
- ``sticky_split`` (0/1): an update with an empty or missing ``versionWeights`` keeps the old
  split (whether ``[]`` clears one is undocumented).
- ``stale_update_status`` (0/1): the answer to a runtime update echoes the status from before it.
- ``idle_stop``: seconds after which the process of a version no endpoint routes to is stopped
  (it starts again on demand).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

from .auth import ApiError

ENV_VAR = "AGENTRUN_EMULATOR_FAULTS"
RETRY_AFTER = "200"  # milliseconds, as x-acs-retry-after counts them (darabonba sleeps that many ms)
ENDPOINT_WRITE_S = 1.0
RUNTIME_UPDATE_S = 3.0
_RATES = ("throttle", "error5xx", "lose_answer")
_SWITCHES = ("placeholder_weights", "sticky_split", "stale_update_status")


@dataclass(frozen=True)
class Faults:
    throttle: float = 0.0
    error5xx: float = 0.0
    lose_answer: float = 0.0
    latency: float = 1.0
    placeholder_weights: float = 0.0
    sticky_split: float = 0.0
    stale_update_status: float = 0.0
    idle_stop: float = 300.0

    @classmethod
    def parse(cls, text: str) -> Faults:
        """``"throttle=0.3,latency=0"``; raises ValueError naming the bad part."""
        values = {}
        for part in filter(None, (p.strip() for p in (text or "").split(","))):
            name, _, value = part.partition("=")
            values[name.strip()] = value.strip()
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Faults:
        return cls().updated(values)

    def updated(self, values: Mapping[str, object]) -> Faults:
        """These settings with ``values`` changed; raises ValueError for an unknown or bad value."""
        known = [f.name for f in fields(self)]
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}: use {', '.join(known)}")
        parsed = {}
        for name, value in values.items():
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(f"fault setting {name}={value!r} is not a number") from None
            high = 1.0 if name in _RATES + _SWITCHES else 3600.0
            if not 0.0 <= number <= high:
                raise ValueError(f"fault setting {name}={number} is outside [0, {high:g}]")
            parsed[name] = number
        return replace(self, **parsed)

    def as_dict(self) -> dict:
        return asdict(self)

    def on(self, switch: str) -> bool:
        return bool(getattr(self, switch))

    def delay(self, base: float) -> float:
        """A cloud-like duration, scaled."""
        return base * self.latency

    def maybe_fail(self, rng: random.Random = random) -> None:  # type: ignore[assignment]
        """Raise the fault this call draws, if any."""
        if not (self.throttle or self.error5xx):
            return
        draw = rng.random()
        if draw < self.throttle:
            raise ApiError(429, "Throttling", "Request was denied due to request throttling (emulator fault).")
        if draw < self.throttle + self.error5xx:
            raise ApiError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the "
                                                      "server (emulator fault).")

    def lose(self, rng: random.Random = random) -> bool:  # type: ignore[assignment]
        """Whether this mutating call's answer is lost."""
        return bool(self.lose_answer) and rng.random() < self.lose_answer
