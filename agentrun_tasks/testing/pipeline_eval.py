"""Which jobs a generated pipeline runs for an event, decided as each platform documents it:
GitLab's ``workflow:rules`` and job ``rules:`` (its expression language), GitHub's ``on:``
filters and ``if:`` expressions with ``needs``, Jenkins' declarative ``when`` conditions in a
multibranch build, Bitbucket's pipeline selection (most specific glob wins), CircleCI's
workflow ``when`` and job ``filters``, and Yunxiao's trigger filters (set in the console as
docs/ci.md says) with job ``condition``. ``jobs(platform, files, event)`` returns
``{job: mode}`` with canonical job names and mode "" (runs), "approval" (waits for a person
before it runs) or "by hand" (offered, runs only if someone starts it).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Callable, Mapping

from ruamel.yaml import YAML

from . import jenkinsfile
from .ci_expressions import github_glob, github_if, gitlab_if

__all__ = ["EVENTS", "Event", "canonical", "cell", "github_glob", "github_if", "gitlab_if", "gitlab_variables", "jobs"]


@dataclass(frozen=True)
class Event:
    kind: str  # push, tag, mr (opened/updated), mr_closed, schedule, manual
    ref: str  # the branch (the MR's source branch) or the tag
    mr_open: bool = False  # push to a branch with an open MR/PR
    action: str = ""  # manual: rollback, promote, release


# The rows of docs/ci.md's contract table, in its order.
EVENTS = {
    "push to develop": Event("push", "develop"),
    "push to develop, MR open": Event("push", "develop", mr_open=True),
    "push to feature/x": Event("push", "feature/x"),
    "push to feature/x, MR open": Event("push", "feature/x", mr_open=True),
    "MR/PR from feature/x opened or updated": Event("mr", "feature/x"),
    "MR/PR from feature/x closed": Event("mr_closed", "feature/x"),
    "push to main": Event("push", "main"),
    "push to hotfix/x, MR open": Event("push", "hotfix/x", mr_open=True),
    "tag v1.2.3": Event("tag", "v1.2.3"),
    "tag nightly": Event("tag", "nightly"),
    "weekly schedule": Event("schedule", "main"),
    "by hand on main: rollback": Event("manual", "main", action="rollback"),
}

_RENAME = {"rollback-prod": "rollback", "promote-prod": "promote"}


def canonical(name: str) -> str:
    key = re.sub(r"[ _]", "-", name.lower())
    return _RENAME.get(key, key)


def load(text: str) -> dict:
    return YAML(typ="safe", pure=True).load(text)


# -- GitLab ---------------------------------------------------------------------------------------
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


def gitlab(files: Mapping[str, str], event: Event) -> dict[str, str]:
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


# -- GitHub ---------------------------------------------------------------------------------------
def github(files: Mapping[str, str], event: Event) -> dict[str, str]:
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
    running = _running({n: (github_if(j.get("if", "true"), ctx), j.get("needs", [])) for n, j in doc["jobs"].items()})
    # Jobs in the prod environment wait for its required reviewers (docs/ci.md); prod-rotation has none.
    return {canonical(n): "approval" if environment(j) == "prod" else ""
            for n, j in doc["jobs"].items() if n in running}


def _running(jobs: Mapping[str, tuple[bool, list[str]]]) -> set[str]:
    """The jobs that run: their own condition holds and every job they need runs (a skipped
    need skips the job on GitHub and CircleCI alike; the files use no status functions)."""
    ran: dict[str, bool] = {}

    def runs(name: str) -> bool:
        if name not in ran:
            ok, needs = jobs[name]
            ran[name] = ok and all(runs(n) for n in needs)
        return ran[name]

    return {name for name in jobs if runs(name)}


def environment(job: dict) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


# -- Jenkins (multibranch; discovery and strategies as docs/ci.md sets them) ---------------------
def _ant(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern)  # Jenkins' branch GLOB: * within the name


def _jenkins_condition(statement: str, build: Mapping[str, str]) -> bool:
    m = re.fullmatch(r"branch '([^']*)'", statement)
    if m:
        return "CHANGE_ID" not in build and "TAG_NAME" not in build and _ant(m.group(1), build["BRANCH_NAME"])
    m = re.fullmatch(r"tag pattern: '([^']*)', comparator: 'REGEXP'", statement)
    if m:
        return "TAG_NAME" in build and re.fullmatch(m.group(1), build["TAG_NAME"]) is not None
    if statement == "changeRequest()":
        return "CHANGE_ID" in build
    if statement == "buildingTag()":
        return "TAG_NAME" in build
    m = re.fullmatch(r"triggeredBy '(\w+)'", statement)
    if m:
        return build.get("CAUSE") == m.group(1)
    m = re.fullmatch(r"params\.ACTION == '([^']*)'", statement)
    if m:
        return build.get("ACTION", "pipeline") == m.group(1)
    raise ValueError(f"unknown when condition {statement!r}")


def _jenkins_block(block: jenkinsfile.Block, build: Mapping[str, str], combine: Callable = all) -> bool:
    # beforeInput/beforeAgent say when the conditions are evaluated, not what they are.
    results = [_jenkins_condition(s, build) for s in block.statements if not s.startswith("before")]
    for child in block.children:
        if child.name == "expression":
            results.append(_jenkins_condition(child.statements[0], build))
        elif child.name == "not":
            results.append(not _jenkins_block(child, build))
        elif child.name in ("allOf", "anyOf"):
            results.append(_jenkins_block(child, build, all if child.name == "allOf" else any))
        else:
            raise ValueError(f"unknown when block {child.name!r}")
    return combine(results)


def jenkins_builds(event: Event) -> list[dict[str, str]]:
    """The builds multibranch starts: every branch (discovery "All branches", so develop and
    hotfix/* build with an open PR), each PR (PR-7), tags (tag discovery + a tag build strategy)."""
    if event.kind == "push":
        return [{"BRANCH_NAME": event.ref}]
    if event.kind == "tag":
        return [{"BRANCH_NAME": event.ref, "TAG_NAME": event.ref}]
    if event.kind == "mr":
        return [{"BRANCH_NAME": "PR-7", "CHANGE_ID": "7", "CHANGE_BRANCH": event.ref}]
    if event.kind == "schedule":
        return [{"BRANCH_NAME": event.ref, "CAUSE": "TimerTrigger"}]
    if event.kind == "manual":
        return [{"BRANCH_NAME": event.ref, "ACTION": event.action}]
    return []


def jenkins(files: Mapping[str, str], event: Event) -> dict[str, str]:
    pipeline = jenkinsfile.parse(files["Jenkinsfile"]).child("pipeline")
    stages = pipeline.child("stages") if pipeline else None
    assert stages is not None, "no pipeline { stages { ... } }"
    out: dict[str, str] = {}
    for build in jenkins_builds(event):
        for stage in stages.children:
            name = stage.head.split("'")[1]  # stage('Name')
            when = stage.child("when")
            if name == "Install" or (when and not _jenkins_block(when, build)):
                continue
            out[canonical(name)] = "approval" if stage.child("input") else ""
    return out


# -- Bitbucket ------------------------------------------------------------------------------------
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


def bitbucket(files: Mapping[str, str], event: Event) -> dict[str, str]:
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


# -- CircleCI -------------------------------------------------------------------------------------
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


def circleci(files: Mapping[str, str], event: Event) -> dict[str, str]:
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
        running = _running({name: (ok, spec.get("requires", [])) for name, (spec, ok) in entries.items()})
        for name, (spec, _) in entries.items():
            if name in running and spec.get("type") != "approval":
                approval = any(entries[r][0].get("type") == "approval" for r in spec.get("requires", []))
                out[canonical(name)] = "approval" if approval else ""
    return out


# -- Yunxiao (the code source's trigger filters are set in the console, as docs/ci.md says) ------
YUNXIAO_TRIGGERS = {  # pipeline file -> (event kinds, ref filter as a regex)
    ".yunxiao/ci.yml": (("push",), r".*"),
    ".yunxiao/release.yml": (("push", "tag"), r"main|master|hotfix/.*|v[0-9].*"),
    ".yunxiao/manage.yml": (("manual",), r"main"),
    ".yunxiao/rotate-keys.yml": (("schedule",), r"main"),
}


def yunxiao(files: Mapping[str, str], event: Event) -> dict[str, str]:
    out: dict[str, str] = {}
    for path, text in files.items():
        kinds, refs = YUNXIAO_TRIGGERS[path]
        if event.kind not in kinds or not re.fullmatch(refs, event.ref):
            continue
        jobs = {jid: job for stage in load(text)["stages"].values() for jid, job in stage["jobs"].items()}
        for jid, job in jobs.items():
            if job.get("component") == "ManualValidate":
                continue
            condition = job.get("condition")
            if condition:
                left, right = (s.strip().strip('"') for s in condition.split("=="))
                if left.replace("${CI_COMMIT_REF_NAME}", event.ref) != right:
                    continue
            approval = jobs.get(job.get("needs", ""), {}).get("component") == "ManualValidate"
            out[canonical(jid)] = "by hand" if job.get("driven") == "manual" else "approval" if approval else ""
    return out


PLATFORMS: dict[str, Callable[[Mapping[str, str], Event], dict[str, str]]] = {
    "github": github, "gitlab": gitlab, "jenkins": jenkins, "yunxiao": yunxiao, "bitbucket": bitbucket,
    "circleci": circleci,
}


def jobs(platform: str, files: Mapping[str, str], event: Event) -> dict[str, str]:
    """``{canonical job: mode}`` for ``event`` on ``platform``'s generated ``files`` (path -> text)."""
    return PLATFORMS[platform](files, event)


def cell(result: Mapping[str, str]) -> str:
    """How docs/ci.md's table writes a result: jobs in a fixed order, the mode in parentheses."""
    order = ["test", "deploy-dev", "preview", "remove-preview", "release-prod", "rollback", "promote", "rotate-keys"]
    names = sorted(result, key=lambda n: order.index(n) if n in order else len(order))
    return ", ".join(n + (f" ({result[n]})" if result[n] else "") for n in names) or "nothing"
