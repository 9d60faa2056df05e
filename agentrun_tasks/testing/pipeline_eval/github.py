"""GitHub Actions: the workflow's ``on:`` filters, then each job's ``if:`` expression and its
``needs``; jobs in the prod environment wait for its required reviewers."""

from __future__ import annotations

from collections.abc import Mapping

from ..ci_expressions import github_glob, github_if
from .events import Event
from .reading import canonical, load, running_jobs

__all__ = ["environment", "jobs"]


def jobs(files: Mapping[str, str], event: Event) -> dict[str, str]:
    doc = load(files[".github/workflows/agentrun.yml"])
    on: dict = doc.get("on") or doc.get(True) or {}  # YAML 1.1 readers turn the key `on` into True
    ctx: dict[str, object] = {}
    if event.kind in ("push", "tag"):
        kind, patterns = ("tags", on["push"].get("tags", [])) if event.kind == "tag" else \
            ("branches", on["push"].get("branches", []))
        if not any(github_glob(p, event.ref) for p in patterns):
            return {}
        ctx = {"github.event_name": "push", "github.ref": f"refs/{'tags' if kind == 'tags' else 'heads'}/{event.ref}"}
    elif event.kind in ("mr", "mr_closed"):
        action = "closed" if event.kind == "mr_closed" else "synchronize"
        if action not in on.get("pull_request", {}).get("types", []):
            return {}
        ctx = {"github.event_name": "pull_request", "github.event.action": action, "github.ref": "refs/pull/7/merge",
               "github.head_ref": event.ref}
    elif event.kind == "schedule":
        if "schedule" not in on:
            return {}
        ctx = {"github.event_name": "schedule", "github.ref": "refs/heads/main"}
    elif event.kind == "manual":
        if "workflow_dispatch" not in on:
            return {}
        ctx = {"github.event_name": "workflow_dispatch", "github.ref": f"refs/heads/{event.ref}",
               "inputs.action": event.action}
    running = running_jobs({n: (github_if(j.get("if", "true"), ctx), j.get("needs", []))
                            for n, j in doc["jobs"].items()})
    # Jobs in the prod environment wait for its required reviewers (docs/ci.md); prod-rotation has none.
    return {canonical(n): "approval" if environment(j) == "prod" else ""
            for n, j in doc["jobs"].items() if n in running}


def environment(job: dict) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env
