"""How each CI platform takes what a task hands it besides log lines: secret masks, step outputs
for later steps, a Markdown run summary and collapsible log sections (GitHub, GitLab, Azure,
Bitbucket, CircleCI; the base :class:`Dialect` is a local run's, which does almost nothing).

:class:`agentrun_tasks.core.report.Reporter` prints the lines a dialect returns; a dialect only
writes the platform's files, redacted, and never prints.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping

from . import secrets


class Dialect:
    """How one CI platform takes masks, step outputs, summaries and collapsible log sections.
    The base does nothing.

    ``write_output`` and ``write_summary`` write the platform's file and return None, or return
    the log command that does it (Azure), for the reporter to print.
    """

    name = "local"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def mask_line(self, value: str) -> str | None:
        return None

    def write_output(self, name: str, value: str) -> str | None:
        path = self.environ.get("AGENTRUN_OUTPUT_FILE")
        if path:
            _append(path, f"{name}={value}\n")
        return None

    def write_summary(self, markdown: str) -> str | None:
        return None

    def section(self, title: str) -> tuple[str, str] | None:
        """The log lines that open and close a collapsible section, where the platform has them."""
        return None


class GitHubDialect(Dialect):
    name = "github"

    def mask_line(self, value: str) -> str | None:
        # ::add-mask:: takes one line; a multi-line secret is masked line by line.
        return "\n".join(f"::add-mask::{line}" for line in value.splitlines() if line)

    def write_output(self, name: str, value: str) -> str | None:
        path = self.environ.get("GITHUB_OUTPUT")
        if not path:
            return super().write_output(name, value)
        _append(path, f"{name}={value}\n")
        return None

    def write_summary(self, markdown: str) -> str | None:
        path = self.environ.get("GITHUB_STEP_SUMMARY")
        if path:
            _append(path, markdown.rstrip("\n") + "\n")
        return None

    def section(self, title: str) -> tuple[str, str] | None:
        return f"::group::{title}", "::endgroup::"


class GitLabDialect(Dialect):
    """GitLab has no runtime mask: outputs go to a dotenv report (``artifacts:reports:dotenv``)."""

    name = "gitlab"

    def write_output(self, name: str, value: str) -> str | None:
        path = self.environ.get("AGENTRUN_OUTPUT_FILE", "agentrun.env")
        _append(path, f"{name.upper()}={value}\n")
        return None

    def section(self, title: str) -> tuple[str, str] | None:
        # GitLab's collapsible sections: a name of [a-z0-9_] and a Unix time at each end.
        name = re.sub(r"[^a-z0-9_]+", "_", title.lower()).strip("_")[:40] or "section"
        now = int(time.time())
        return (f"\x1b[0Ksection_start:{now}:{name}[collapsed=true]\r\x1b[0K{title}",
                f"\x1b[0Ksection_end:{now}:{name}\r\x1b[0K")


class AzureDialect(Dialect):
    name = "azure"

    def mask_line(self, value: str) -> str | None:
        return f"##vso[task.setsecret]{value}"

    def write_output(self, name: str, value: str) -> str | None:
        return f"##vso[task.setvariable variable={name};isoutput=true]{value}"

    def write_summary(self, markdown: str) -> str | None:
        # Azure attaches a Markdown file to the run's summary page: write one, then name it.
        folder = self.environ.get("AGENT_TEMPDIRECTORY") or self.environ.get("AGENTRUN_SUMMARY_DIR")
        if not folder:
            return None
        path = os.path.join(folder, f"agentrun-summary-{os.getpid()}-{time.monotonic_ns()}.md")
        _append(path, markdown)
        return f"##vso[task.uploadsummary]{path}"

    def section(self, title: str) -> tuple[str, str] | None:
        return f"##[group]{title}", "##[endgroup]"


class BitbucketDialect(Dialect):
    name = "bitbucket"

    def write_output(self, name: str, value: str) -> str | None:
        path = self.environ.get("BITBUCKET_PIPELINES_VARIABLES_PATH")
        if not path:
            return super().write_output(name, value)
        _append(path, f"{name.upper()}={value}\n")
        return None


class CircleDialect(Dialect):
    name = "circleci"

    def write_output(self, name: str, value: str) -> str | None:
        path = self.environ.get("BASH_ENV")
        if not path:
            return super().write_output(name, value)
        _append(path, f"export {name.upper()}={json.dumps(value)}\n")
        return None


_DIALECTS = {d.name: d for d in (GitHubDialect, GitLabDialect, AzureDialect, BitbucketDialect, CircleDialect)}


def dialect_for(platform: str, environ: Mapping[str, str] | None = None) -> Dialect:
    """The dialect of a platform name as :mod:`agentrun_tasks.core.cienv` reports it."""
    environ = os.environ if environ is None else environ
    return _DIALECTS.get(platform, Dialect)(environ)


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(secrets.redact(text))
