"""CircleCI: each workflow's ``when`` and each job's branch and tag ``filters``; a job that requires
an approval job waits for a person."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .events import Event
from .reading import canonical, load, running_jobs

__all__ = ["jobs"]


def _circle_when(condition: object, values: Mapping[str, str]) -> bool:
    if isinstance(condition, dict):
        (op, arg), = condition.items()
        if op == "and":
            return all(_circle_when(c, values) for c in arg)
        if op == "or":
            return any(_circle_when(c, values) for c in arg)
        if op == "not":
            return not _circle_when(arg, values)
        if op == "equal":
            a, b = (re.sub(r"<< (pipeline\.[\w.]+) >>", lambda m: values.get(m.group(1), ""), str(x)) for x in arg)
            return a == b
    raise ValueError(f"unknown when {condition!r}")


def _circle_filter(rule: object, name: str | None) -> bool | None:
    """True/False for an ``only``/``ignore`` filter; None when the filter does not apply."""
    if not isinstance(rule, dict) or name is None:
        return None
    def hit(patterns) -> bool:
        patterns = patterns if isinstance(patterns, list) else [patterns]
        return any(re.fullmatch(p[1:-1], name) if p.startswith("/") else p == name for p in patterns)
    if "only" in rule:
        return hit(rule["only"])
    return not hit(rule["ignore"]) if "ignore" in rule else None


def jobs(files: Mapping[str, str], event: Event) -> dict[str, str]:
    doc = load(files[".circleci/config.yml"])
    if event.kind in ("mr", "mr_closed"):
        return {}  # CircleCI builds the branch; a PR adds no pipeline of its own
    values = {"pipeline.parameters.action": event.action or "pipeline",
              "pipeline.trigger_source": "scheduled_pipeline" if event.kind == "schedule" else "webhook",
              "pipeline.schedule.name": "rotate-keys" if event.kind == "schedule" else ""}
    branch, tag = (None, event.ref) if event.kind == "tag" else (event.ref, None)
    out: dict[str, str] = {}
    for workflow in doc["workflows"].values():
        if "when" in workflow and not _circle_when(workflow["when"], values):
            continue
        entries = {}
        for entry in workflow["jobs"]:
            (name, spec), = entry.items() if isinstance(entry, dict) else ((entry, {}),)
            filters = (spec or {}).get("filters", {})
            if tag is not None:  # a tag builds a job only if its tags filter says so
                ok = _circle_filter(filters.get("tags"), tag) is True
            else:
                ok = _circle_filter(filters.get("branches"), branch) is not False
            entries[name] = (spec or {}, ok)
        running = running_jobs({name: (ok, spec.get("requires", [])) for name, (spec, ok) in entries.items()})
        for name, (spec, _) in entries.items():
            if name in running and spec.get("type") != "approval":
                approval = any(entries[r][0].get("type") == "approval" for r in spec.get("requires", []))
                out[canonical(name)] = "approval" if approval else ""
    return out
