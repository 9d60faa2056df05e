"""Bitbucket Pipelines: the pipeline the event selects (the most specific glob wins); a step with
``trigger: manual`` waits for a person."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .events import Event
from .reading import canonical, load

__all__ = ["jobs"]


def _bb_glob(pattern: str, name: str) -> bool:
    """Bitbucket's globs: ``*`` stops at /, ``**`` does not, ``{a,b}`` alternatives."""
    rx = re.escape(pattern).replace(r"\*\*", "\0").replace(r"\*", "[^/]*").replace("\0", ".*")
    rx = re.sub(r"\\\{([^}]*)\\\}", lambda m: "(" + "|".join(m.group(1).split(",")) + ")", rx)
    return re.fullmatch(rx, name) is not None


def _bb_select(section: Mapping[str, list], name: str) -> list | None:
    """The most specific matching pattern wins (an exact name, then the one with the longest
    fixed text), as Bitbucket's glob page says."""
    matches = [p for p in section if _bb_glob(p, name)]
    if not matches:
        return None
    return section[max(matches, key=lambda p: (p == name, len(re.sub(r"[*{},]", "", p))))]


def jobs(files: Mapping[str, str], event: Event) -> dict[str, str]:
    pipelines = load(files["bitbucket-pipelines.yml"])["pipelines"]
    if event.kind == "push":
        steps = _bb_select(pipelines.get("branches", {}), event.ref) or pipelines.get("default")
    elif event.kind == "tag":
        steps = _bb_select(pipelines.get("tags", {}), event.ref)
    elif event.kind == "mr":
        steps = _bb_select(pipelines.get("pull-requests", {}), event.ref)
    elif event.kind == "schedule":  # the schedule made in the UI runs custom: rotate-keys
        steps = pipelines.get("custom", {}).get("rotate-keys")
    elif event.kind == "manual":
        steps = pipelines.get("custom", {}).get(event.action)
    else:
        steps = None
    return {canonical(s["step"]["name"]): "approval" if s["step"].get("trigger") == "manual" else ""
            for s in steps or [] if "step" in s}
