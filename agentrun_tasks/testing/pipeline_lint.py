"""Rules the platforms' schemas do not hold, for generated pipelines: every command after the
install is one ``invoke`` line, a job only depends on jobs that exist, and keys the loose schemas
let through (Bitbucket steps, CircleCI workflow entries) are known ones. ``lint`` returns the
problems found, one line each; an empty list is a pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..core.pipelines.model import TEST_LOCK, Options

__all__ = ["LINTERS", "jenkins_commands", "lint"]

BITBUCKET_STEP_KEYS = {"name", "script", "caches", "deployment", "trigger", "max-time", "concurrency-group",
                       "image", "services", "artifacts", "after-script", "size", "clone", "oidc",
                       "output-variables", "runs-on", "condition", "fail-fast"}
CIRCLE_WORKFLOW_JOB_KEYS = {"requires", "context", "filters", "type", "serial-group", "name", "matrix"}


def _invoke_only(where: str, lines: list[str], install: list[str]) -> Iterator[str]:
    for line in lines:
        for part in str(line).splitlines():
            if part.strip() and part not in install and not part.startswith("invoke "):
                yield f"{where}: {part!r} is neither the install step nor an invoke line"


def _missing(where: str, needs: object, known: set[str]) -> Iterator[str]:
    names = [needs] if isinstance(needs, str) else list(needs) if isinstance(needs, Iterable) else []
    for name in names:
        if name not in known:
            yield f"{where}: depends on {name!r}, which is not a job"


def _github(doc: dict, install: list[str]) -> Iterator[str]:
    jobs = doc["jobs"]
    for name, job in jobs.items():
        yield from _missing(f"jobs.{name}", job.get("needs"), set(jobs))
        yield from _invoke_only(f"jobs.{name}", [s["run"] for s in job["steps"] if "run" in s], install)


def _gitlab(doc: dict, install: list[str]) -> Iterator[str]:
    jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}
    yield from _invoke_only("default.before_script", doc["default"]["before_script"], install)
    for name, job in jobs.items():
        yield from _invoke_only(f"{name}.before_script", job.get("before_script", []), install)
        yield from _missing(name, job.get("needs"), set(jobs))
        stop = (job.get("environment") or {}).get("on_stop")
        if stop:
            yield from _missing(f"{name}.environment.on_stop", stop, set(jobs))
        if job["stage"] not in doc["stages"]:
            yield f"{name}: stage {job['stage']!r} is not in stages"
        yield from _invoke_only(name, job["script"], install)


def _bitbucket_steps(doc: dict) -> Iterator[tuple[str, dict]]:
    for kind, value in doc["pipelines"].items():
        groups = {kind: value} if isinstance(value, list) else {f"{kind}.{k}": v for k, v in value.items()}
        for where, items in groups.items():
            for i, item in enumerate(items):
                if "step" in item:
                    yield f"pipelines.{where}[{i}]", item["step"]


def _bitbucket(doc: dict, install: list[str]) -> Iterator[str]:
    caches = set(doc.get("definitions", {}).get("caches", {})) | {"pip", "docker", "node"}
    for where, step in _bitbucket_steps(doc):
        for key in sorted(set(step) - BITBUCKET_STEP_KEYS):
            yield f"{where}: unknown step key {key!r}"
        for cache in step.get("caches", []):
            if cache not in caches:
                yield f"{where}: cache {cache!r} is not defined"
        yield from _invoke_only(where, step["script"], install)


def _circleci(doc: dict, install: list[str]) -> Iterator[str]:
    jobs = doc["jobs"]
    for cname, command in doc["commands"].items():
        yield from _invoke_only(f"commands.{cname}", [s["run"]["command"] for s in command["steps"]
                                                      if isinstance(s, dict) and "run" in s], install)
    for name, job in jobs.items():
        runs = [s["run"]["command"] for s in job["steps"] if isinstance(s, dict) and "run" in s]
        yield from _invoke_only(f"jobs.{name}", runs, install)
    for wname, workflow in doc["workflows"].items():
        entries = {}
        for entry in workflow["jobs"]:
            (name, spec), = entry.items() if isinstance(entry, dict) else ((entry, {}),)
            entries[name] = spec or {}
        for name, spec in entries.items():
            where = f"workflows.{wname}.{name}"
            for key in sorted(set(spec) - CIRCLE_WORKFLOW_JOB_KEYS):
                yield f"{where}: unknown key {key!r}"
            if spec.get("type") not in (None, "approval"):
                yield f"{where}: type {spec['type']!r} is not 'approval'"
            if name not in jobs and spec.get("type") != "approval":
                yield f"{where}: no job {name!r}"
            yield from _missing(where, spec.get("requires"), set(entries))


def _yunxiao(doc: dict, install: list[str]) -> Iterator[str]:
    jobs = {jid: job for stage in doc["stages"].values() for jid, job in stage["jobs"].items()}
    for jid, job in jobs.items():
        yield from _missing(jid, job.get("needs"), set(jobs))
        runs = [step["with"]["run"] for step in (job.get("steps") or {}).values() if step.get("step") == "Command"]
        yield from _invoke_only(jid, runs, install)


def jenkins_commands(text: str) -> dict[str, list[str]]:
    """``sh '...'`` lines of a Jenkinsfile by stage name."""
    out: dict[str, list[str]] = {}
    stage = None
    for line in text.splitlines():
        found = re.match(r"\s*stage\('([^']+)'\)", line)
        if found:
            stage = found.group(1)
        command = re.match(r"\s*sh '(.*)'\s*$", line)
        if command and stage:
            out.setdefault(stage, []).append(command.group(1))
    return out


def _jenkins(text: str, install: list[str]) -> Iterator[str]:
    for stage, commands in jenkins_commands(text).items():
        yield from _invoke_only(f"stage {stage}", commands, install)


# platform -> its checks over (the parsed document or a Jenkinsfile's text, the install lines)
LINTERS: dict[str, Callable[[Any, list[str]], Iterator[str]]] = {
    "github": _github, "gitlab": _gitlab, "bitbucket": _bitbucket, "circleci": _circleci,
    "yunxiao": _yunxiao, "jenkins": _jenkins,
}


def lint(platform: str, document: object, options: Options | None = None) -> list[str]:
    """Problems in one generated file (a parsed YAML document, or a Jenkinsfile's text)."""
    options = options or Options()
    install = [*options.install_lines(), options.install_project(TEST_LOCK)]
    return list(LINTERS[platform](document, install))
