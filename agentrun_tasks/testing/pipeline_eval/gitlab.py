"""GitLab: ``workflow:rules`` and job ``rules:``, in GitLab's expression language; a rule with
``when: manual`` that does not allow failure blocks the pipeline (an approval)."""

from __future__ import annotations

from collections.abc import Mapping

from ..ci_expressions import gitlab_if
from .events import Event
from .reading import canonical, load

__all__ = ["gitlab_rules", "gitlab_variables", "jobs"]


def gitlab_rules(rules: list[dict], variables: Mapping[str, str]) -> dict | None:
    """The first rule that matches (``if`` true or absent), or None: GitLab's rule order."""
    return next((r for r in rules if "if" not in r or gitlab_if(r["if"], variables)), None)


def gitlab_variables(event: Event) -> dict[str, str]:
    v = {"CI_COMMIT_REF_NAME": event.ref}
    if event.kind in ("push", "schedule", "manual"):
        v["CI_COMMIT_BRANCH"] = event.ref
        v["CI_PIPELINE_SOURCE"] = {"push": "push", "schedule": "schedule", "manual": "web"}[event.kind]
    if event.kind == "tag":
        v.update(CI_COMMIT_TAG=event.ref, CI_PIPELINE_SOURCE="push")
    if event.kind == "mr":
        v.update(CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_IID="7",
                 CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=event.ref)
    if event.mr_open:
        v["CI_OPEN_MERGE_REQUESTS"] = "acme/app!7"
    if event.kind == "schedule":
        v["AGENTRUN_SCHEDULE"] = "rotate-keys"
    return v


def jobs(files: Mapping[str, str], event: Event) -> dict[str, str]:
    if event.kind == "mr_closed":  # no pipeline: the preview's on_stop job runs when the branch is deleted
        return {}
    doc = load(files[".gitlab-ci.yml"])
    variables = gitlab_variables(event)
    rule = gitlab_rules(doc["workflow"]["rules"], variables)
    if rule is None or rule.get("when") == "never":
        return {}
    out = {}
    for name, job in doc.items():
        if not isinstance(job, dict) or "script" not in job:
            continue
        rule = gitlab_rules(job["rules"], variables)
        when = "on_success" if rule is None and not job["rules"] else (rule or {}).get("when", "on_success")
        if rule is None or when == "never":
            continue
        blocking = rule.get("allow_failure", job.get("allow_failure", when != "manual")) is False
        out[canonical(name)] = "" if when == "on_success" else "approval" if blocking else "by hand"
    return out
