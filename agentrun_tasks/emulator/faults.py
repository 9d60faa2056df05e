"""Injected control-plane faults, off by default: throttling and server errors at a given rate.

Set at start by ``AGENTRUN_EMULATOR_FAULTS="throttle=0.3,error5xx=0.1"`` or at run time by
``POST /_emulator/faults`` with ``{"throttle": 0.3, "error5xx": 0.1}``. A throttled call answers
HTTP 429 ``Throttling`` with ``x-acs-retry-after`` (the header that makes tea-openapi raise
``ThrottlingException``); a server error answers HTTP 503 ``ServiceUnavailable``
(``ServerException``). Faults hit the control plane and RAM/STS, never the data plane.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Mapping

from .auth import ApiError

ENV_VAR = "AGENTRUN_EMULATOR_FAULTS"
RETRY_AFTER = "1"


@dataclass
class Faults:
    throttle: float = 0.0
    error5xx: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "Faults":
        """``"throttle=0.3,error5xx=0.1"``; raises ValueError naming the bad part."""
        values = {}
        for part in filter(None, (p.strip() for p in (text or "").split(","))):
            name, _, value = part.partition("=")
            values[name.strip()] = value.strip()
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> "Faults":
        unknown = set(values) - {"throttle", "error5xx"}
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}: use throttle and error5xx")
        rates = {}
        for name, value in values.items():
            try:
                rate = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"fault rate {name}={value!r} is not a number") from None
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate {name}={rate} is outside [0, 1]")
            rates[name] = rate
        return cls(**rates)

    def as_dict(self) -> dict:
        return asdict(self)

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
