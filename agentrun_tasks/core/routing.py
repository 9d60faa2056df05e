"""Validation of an endpoint's routing before anything is sent to the platform."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .errors import ConfigError, NotFoundError


def parse_weight(text: str | float | None) -> float | None:
    """``0.05``, ``5%`` -> 0.05. Anything outside [0, 1] is bad input (exit 2)."""
    if text is None or text == "":
        return None
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"weight {raw!r} is not a number; give a share like 0.05 or 5%.") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"weight {raw!r} is outside [0, 1]; give the canary's share of traffic, like 0.05 or 5%.")
    return value


def canary_weights(target: str, canary: str | None, weight: float | None) -> dict[str, float]:
    """The ``versionWeights`` for a publish: the canary's share, the target takes the rest.

    The usual CI guide's ``--target-version 2 --weight 0.1`` (no canary; README, "What it fixes in
    the usual CI guide") is refused here as the devsapp component refuses it, but before any call,
    with the fix in the message.
    """
    if weight is not None and canary is None:
        raise ConfigError(
            f"--weight {weight} needs --canary-version: the weight is the canary's share, and the target version "
            f"{target} takes the rest. Example: --target-version 1 --canary-version 2 --weight 0.1")
    if canary is not None and weight is None:
        raise ConfigError(f"--canary-version {canary} needs --weight (its share of traffic, like 0.05 or 5%).")
    if canary is None or weight is None:
        return {}
    if str(canary) == str(target):
        raise ConfigError(f"the canary version {canary} is the target version; name two different versions.")
    return {str(canary): weight}


def require_versions(wanted: Iterable[str], published: Iterable[str]) -> None:
    """Every version named must be published (``LATEST`` always exists)."""
    have = set(published) | {"LATEST"}
    missing = [v for v in wanted if v is not None and str(v) not in have]
    if missing:
        listed = ", ".join(sorted(have - {"LATEST"}, key=lambda v: (len(v), v))) or "none yet"
        raise NotFoundError(
            f"version {', '.join(missing)} does not exist (published: {listed}); publish one with "
            "`invoke version.publish` first.")
