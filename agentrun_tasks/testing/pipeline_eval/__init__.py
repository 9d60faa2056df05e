"""Which jobs a generated pipeline runs for an event, decided as each platform documents it:
GitLab's ``workflow:rules`` and job ``rules:`` (its expression language), GitHub's ``on:``
filters and ``if:`` expressions with ``needs``, Jenkins' declarative ``when`` conditions in a
multibranch build, Bitbucket's pipeline selection (most specific glob wins), CircleCI's
workflow ``when`` and job ``filters``, and Yunxiao's trigger filters (set in the console as
docs/ci.md says) with job ``condition``; one module each. ``jobs(platform, files, event)``
returns ``{job: mode}`` with canonical job names and mode "" (runs), "approval" (waits for a
person before it runs) or "by hand" (offered, runs only if someone starts it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..ci_expressions import github_glob, github_if, gitlab_if
from . import bitbucket, circleci, github, gitlab, jenkins, yunxiao
from .events import EVENTS, Event
from .github import environment
from .gitlab import gitlab_variables
from .reading import canonical, load

__all__ = ["EVENTS", "PLATFORMS", "Event", "canonical", "cell", "environment", "github_glob", "github_if", "gitlab_if",
           "gitlab_variables", "jobs", "load"]

PLATFORMS: dict[str, Callable[[Mapping[str, str], Event], dict[str, str]]] = {
    "github": github.jobs, "gitlab": gitlab.jobs, "jenkins": jenkins.jobs, "yunxiao": yunxiao.jobs,
    "bitbucket": bitbucket.jobs, "circleci": circleci.jobs,
}


def jobs(platform: str, files: Mapping[str, str], event: Event) -> dict[str, str]:
    """``{canonical job: mode}`` for ``event`` on ``platform``'s generated ``files`` (path -> text)."""
    return PLATFORMS[platform](files, event)


def cell(result: Mapping[str, str]) -> str:
    """How docs/ci.md's table writes a result: jobs in a fixed order, the mode in parentheses."""
    order = ["test", "deploy-dev", "preview", "remove-preview", "release-prod", "rollback", "promote", "rotate-keys"]
    names = sorted(result, key=lambda n: order.index(n) if n in order else len(order))
    return ", ".join(n + (f" ({result[n]})" if result[n] else "") for n in names) or "nothing"
