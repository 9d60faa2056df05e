"""What the platform (or the checkout) says about this run: :class:`CIContext`, who acts, and
:func:`slug`, a branch name made safe for preview runtime names.

Refs are matched as the branch name (``feature/login``) or, for a tag, ``tag:<name>``
(``tag:v1.2.0``); git forbids ``:`` in ref names, so the two can never be confused.
"""

from __future__ import annotations

import getpass
import hashlib
import re
from dataclasses import asdict, dataclass

TAG_PREFIX = "tag:"


@dataclass(frozen=True)
class CIContext:
    """What the platform (or the checkout) says about this run. Missing facts are ``None``."""

    platform: str  # github|gitlab|jenkins|bitbucket|circleci|yunxiao|azure|buildkite|ci|local
    is_ci: bool
    branch: str | None = None  # on a PR/MR build: its source branch
    tag: str | None = None
    sha: str | None = None
    actor: str | None = None
    run_url: str | None = None
    pr_number: str | None = None
    pr_target: str | None = None
    is_pr: bool = False
    source: str | None = None  # where the branch or tag was read from, e.g. GITHUB_HEAD_REF
    build_id: str | None = None
    dirty: bool = False  # the checkout differs from ``sha`` (set by the session for changes it publishes)

    @property
    def ref(self) -> str | None:
        """The name branch maps and protect patterns match: ``tag:<tag>`` or the branch."""
        return TAG_PREFIX + self.tag if self.tag else self.branch

    def to_dict(self) -> dict:
        return {**asdict(self), "ref": self.ref}

    def template_context(self) -> dict[str, str]:
        """The ``${ctx.x}`` variables of env files: the known facts, plus ``branch_slug`` and
        ``short_sha``. Unknown facts are left out, so using one is a clear config error."""
        facts = {k: v for k, v in self.to_dict().items() if isinstance(v, str) and v}
        name = self.branch or self.tag
        if name:
            facts["branch_slug"] = slug(name)
        if self.sha:
            facts["short_sha"] = self.sha[:8]
        return facts


def who(ci: CIContext) -> str:
    """Who acts: the CI platform's actor, else the local user (as history and notifications say)."""
    if ci.actor:
        return ci.actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def slug(branch: str, max_len: int = 30) -> str:
    """A DNS- and AgentRun-safe name part: lowercase ``[a-z0-9-]``, at most ``max_len`` characters.

    A name that had to be shortened ends in a 6-character hash of the full branch name, so two
    long branches with the same prefix still get different preview runtimes.
    """
    text = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")
    if text and len(text) <= max_len:
        return text
    digest = hashlib.sha256(branch.encode("utf-8")).hexdigest()[:6]
    head = text[: max_len - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest
