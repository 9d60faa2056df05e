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
from collections.abc import Callable, Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any

from ...core.errors import BusyError, NotFoundError

if TYPE_CHECKING:
    from ...core.build import Artifact
    from ...core.cienv import CIContext
    from ...core.ports import Driver
    from ...core.report import Reporter
    from ...core.resources import Runtime, Version

_MARK = re.compile(r"\bsha256=([0-9a-f]{16})\b")


def fingerprint(artifact: Artifact, agent: Mapping[str, Any]) -> str:
    """What a version is: its package and its runtime configuration."""
    blob = json.dumps({"package": artifact.sha256, "agent": agent}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def marker(fingerprint_: str) -> str:
    return f"sha256={fingerprint_[:16]}"


def provenance(ci: CIContext) -> list[str]:
    """Where a version came from: commit, branch, CI run (what is known)."""
    return [part for part in (f"commit {ci.sha[:12]}{' (dirty)' if ci.dirty else ''}" if ci.sha else None,
                              f"branch {ci.branch}" if ci.branch else None, ci.run_url) if part]


def describe(fingerprint_: str, ci: CIContext) -> str:
    """A version description: the fingerprint, then where it came from."""
    return "agentrun-tasks " + ", ".join([marker(fingerprint_), *provenance(ci)])


def find_published(versions: Sequence[Version], fingerprint_: str, skip: Set[str] = frozenset()) -> str | None:
    """The newest published version whose description carries this fingerprint (but none in
    ``skip``: versions published while the runtime changed, which may hold other code)."""
    wanted = fingerprint_[:16]
    for version in reversed(versions):
        if version.version in skip:
            continue
        found = _MARK.search(version.description or "")
        if found and found.group(1) == wanted:
            return version.version
    return None


def ensure_candidate(driver: Driver, runtime: Runtime, print_: str, ci: CIContext, reporter: Reporter, *,
                     checksum: str, unproven: Set[str] = frozenset(),
                     on_unproven: Callable[[str, str], None] = lambda version, reason: None) -> str:
    """Publish LATEST as a version unless a version with this fingerprint already exists.

    A version is a snapshot of whatever the runtime holds when it is published, so the runtime's
    code checksum is read right before and right after: only when both are ``checksum`` (the
    package this release built) does the version provably hold it. Otherwise another deploy
    changed the runtime under this release (one that does not take the environment's lock); a
    version published then is handed to ``on_unproven`` and never reused (``unproven``).
    """
    existing = find_published(driver.list_versions(runtime.id), print_, skip=unproven)
    if existing is not None:
        reporter.line(f"version {existing} already holds this package and configuration ({marker(print_)})")
        return existing
    changed = _changed(driver.get_runtime(runtime.id), checksum, "before publishing; nothing was published")
    if changed is not None:
        raise changed
    version = driver.publish_version(runtime.id, describe(print_, ci)).version
    changed = _changed(driver.get_runtime(runtime.id), checksum,
                       f"while version {version} was published; it may hold that code, so it is never released "
                       "as this package")
    if changed is not None:
        on_unproven(version, str(changed))
        raise changed
    reporter.line(f"published version {version}")
    return version


def _changed(runtime: Runtime, checksum: str, when: str) -> BusyError | None:
    if runtime.status == "READY" and runtime.checksum == checksum:
        return None
    return BusyError(
        f"runtime {runtime.name} changed under this release {when}: it is {runtime.status} with code "
        f"checksum {runtime.checksum or 'none'}, but this release built {checksum}. Another deploy that does "
        "not take the environment's lock updated it; rerun `invoke release` when it is done.")


def failure_mark(driver: Driver, runtime: Runtime, version: str) -> str:
    """What a failure mark names: the runtime by id (numbers restart at 1 on a new runtime) and
    the version by its fingerprint, or by number where its description carries none."""
    described = next((v.description for v in driver.list_versions(runtime.id) if v.version == version), "")
    found = _MARK.search(described or "")
    return f"{runtime.id}/{found.group(1) if found else 'version-' + version}"


def require_version(driver: Driver, runtime: Runtime, version: str) -> str:
    """An explicit ``--version`` must be published."""
    if version not in {v.version for v in driver.list_versions(runtime.id)}:
        raise NotFoundError(f"version {version} is not published on runtime {runtime.name}; "
                            "see `invoke version.list`.")
    return version
