"""The candidate of a release: a published version holding exactly the current code.

A version's description carries the package's SHA-256, so a rerun (or a release after a plain
deploy) finds the version it already published instead of publishing a duplicate.
"""

from __future__ import annotations

import re

from ..core.errors import NotFoundError

_MARK = re.compile(r"\bsha256=([0-9a-f]{16})\b")


def marker(sha256: str) -> str:
    return f"sha256={sha256[:16]}"


def describe(sha256: str, ci) -> str:
    """A version description: the package hash, then where it came from."""
    parts = [marker(sha256)]
    if ci.sha:
        parts.append(f"commit {ci.sha[:12]}")
    if ci.branch:
        parts.append(f"branch {ci.branch}")
    if ci.run_url:
        parts.append(ci.run_url)
    return "agentrun-tasks " + ", ".join(parts)


def find_published(versions, sha256: str) -> str | None:
    """The newest published version whose description names this package."""
    wanted = sha256[:16]
    for version in reversed(versions):
        found = _MARK.search(version.description or "")
        if found and found.group(1) == wanted:
            return version.version
    return None


def ensure_candidate(driver, runtime, artifact, ci, reporter) -> str:
    """Publish LATEST as a version unless a version of this package already exists."""
    existing = find_published(driver.list_versions(runtime.id), artifact.sha256)
    if existing is not None:
        reporter.line(f"version {existing} already holds this package ({marker(artifact.sha256)})")
        return existing
    version = driver.publish_version(runtime.id, describe(artifact.sha256, ci))
    reporter.line(f"published version {version.version}")
    return version.version


def require_version(driver, runtime, version: str) -> str:
    """An explicit ``--version`` must be published."""
    if version not in {v.version for v in driver.list_versions(runtime.id)}:
        raise NotFoundError(f"version {version} is not published on runtime {runtime.name}; "
                            "see `invoke version.list`.")
    return version
