"""The candidate of a release: a published version holding exactly the current code and
configuration.

A version's description carries a fingerprint of both (the package's SHA-256 and the agent
block of the env file), so a rerun, or a release after a plain deploy, finds the version it
already published instead of publishing a duplicate, while a changed setting makes a new one.
"""

from __future__ import annotations

import hashlib
import json
import re

from ...core.errors import NotFoundError

_MARK = re.compile(r"\bsha256=([0-9a-f]{16})\b")


def fingerprint(artifact, agent) -> str:
    """What a version is: its package and its runtime configuration."""
    blob = json.dumps({"package": artifact.sha256, "agent": agent}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def marker(fingerprint_: str) -> str:
    return f"sha256={fingerprint_[:16]}"


def provenance(ci) -> list[str]:
    """Where a version came from: commit, branch, CI run (what is known)."""
    return [part for part in (f"commit {ci.sha[:12]}{' (dirty)' if ci.dirty else ''}" if ci.sha else None,
                              f"branch {ci.branch}" if ci.branch else None, ci.run_url) if part]


def describe(fingerprint_: str, ci) -> str:
    """A version description: the fingerprint, then where it came from."""
    return "agentrun-tasks " + ", ".join([marker(fingerprint_), *provenance(ci)])


def find_published(versions, fingerprint_: str) -> str | None:
    """The newest published version whose description carries this fingerprint."""
    wanted = fingerprint_[:16]
    for version in reversed(versions):
        found = _MARK.search(version.description or "")
        if found and found.group(1) == wanted:
            return version.version
    return None


def ensure_candidate(driver, runtime, print_: str, ci, reporter) -> str:
    """Publish LATEST as a version unless a version with this fingerprint already exists."""
    existing = find_published(driver.list_versions(runtime.id), print_)
    if existing is not None:
        reporter.line(f"version {existing} already holds this package and configuration ({marker(print_)})")
        return existing
    version = driver.publish_version(runtime.id, describe(print_, ci))
    reporter.line(f"published version {version.version}")
    return version.version


def require_version(driver, runtime, version: str) -> str:
    """An explicit ``--version`` must be published."""
    if version not in {v.version for v in driver.list_versions(runtime.id)}:
        raise NotFoundError(f"version {version} is not published on runtime {runtime.name}; "
                            "see `invoke version.list`.")
    return version
