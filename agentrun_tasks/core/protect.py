"""Production protection: which builds may change an environment, and when to ask first.

An environment's ``protect.branches`` are fnmatch patterns matched against the current ref:
the branch name, or ``tag:<name>`` for a tag build (as in :mod:`agentrun_tasks.core.cienv`).
A PR/MR build may never change a protected environment, whatever its branch.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from .cienv import PROD_NAMES, TAG_PREFIX, CIContext
from .errors import ConfigError
from .model import EnvConfig


def is_protected(env: EnvConfig) -> bool:
    """Protected = it names allowed branches, asks for confirmation, or is called ``prod``."""
    return bool(env.protect.branches) or env.protect.confirm or env.name in PROD_NAMES


def check(env: EnvConfig, ci: CIContext) -> None:
    """Raise :class:`ConfigError` (exit 2) if this build may not change ``env``."""
    allowed = ", ".join(repr(p) for p in env.protect.branches) or "any branch"
    where = f"in {ci.platform}" if ci.is_ci else "on this laptop"
    if ci.is_pr and is_protected(env):
        pr = f"PR/MR #{ci.pr_number}" if ci.pr_number else "a PR/MR build"
        raise ConfigError(
            f"refusing to change protected environment '{env.name}' from {pr} (branch '{ci.branch}', {where}): "
            f"a pull/merge request build never releases to a protected environment. Deploy it to a "
            f"preview environment instead; '{env.name}' is released by the build of an allowed branch "
            f"({allowed}) after the merge. Nothing was changed.")
    patterns = env.protect.branches
    if not patterns:
        return
    ref = ci.ref
    if ref is None:
        raise ConfigError(
            f"environment '{env.name}' may only be changed from {allowed} (protect.branches in {env.path}), "
            f"but the current branch is unknown {where} (detached HEAD or no branch variable). Check out "
            f"an allowed branch and retry. Nothing was changed.")
    if not any(fnmatchcase(ref, pattern) for pattern in patterns):
        what = f"tag '{ci.tag}'" if ci.tag else f"branch '{ci.branch}'"
        hint = f" Tags are matched as '{TAG_PREFIX}<name>' (e.g. '{TAG_PREFIX}v*')." if ci.tag else ""
        raise ConfigError(
            f"environment '{env.name}' may only be changed from {allowed} (protect.branches in {env.path}), "
            f"not from {what} {where}. Merge into an allowed branch and release from there, or, if "
            f"this branch should be allowed, add a pattern to protect.branches.{hint} Nothing was changed.")


def needs_confirmation(env: EnvConfig, ci: CIContext, *, yes: bool) -> bool:
    """True only on a laptop, for an env with ``protect.confirm``, without ``--yes``. CI never prompts."""
    return not ci.is_ci and env.protect.confirm and not yes
