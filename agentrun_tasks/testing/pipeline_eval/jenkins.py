"""Jenkins: declarative ``when`` conditions in a multibranch build (discovery and strategies as
docs/ci.md sets them); a stage with ``input`` waits for a person."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping

from .. import jenkinsfile
from .events import Event
from .reading import canonical

__all__ = ["jenkins_builds", "jobs"]


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


def jobs(files: Mapping[str, str], event: Event) -> dict[str, str]:
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
