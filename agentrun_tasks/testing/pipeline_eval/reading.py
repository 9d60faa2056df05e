"""What every platform's reading shares: the YAML loader, the canonical job names the contract
table uses, and which jobs run given what each needs."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ruamel.yaml import YAML

__all__ = ["canonical", "load", "running_jobs"]

_RENAME = {"rollback-prod": "rollback", "promote-prod": "promote"}


def canonical(name: str) -> str:
    key = re.sub(r"[ _]", "-", name.lower())
    return _RENAME.get(key, key)


def load(text: str) -> dict:
    return YAML(typ="safe", pure=True).load(text)


def running_jobs(jobs: Mapping[str, tuple[bool, list[str]]]) -> set[str]:
    """The jobs that run: their own condition holds and every job they need runs (a skipped
    need skips the job on GitHub and CircleCI alike; the files use no status functions)."""
    ran: dict[str, bool] = {}

    def runs(name: str) -> bool:
        if name not in ran:
            ok, needs = jobs[name]
            ran[name] = ok and all(runs(n) for n in needs)
        return ran[name]

    return {name for name in jobs if runs(name)}
