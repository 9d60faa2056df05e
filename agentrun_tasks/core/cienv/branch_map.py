"""Which environment a run means: :func:`choose_env` maps the run's branch or tag (``--env``
aside) through ``agentrun.branch_map``, or the default Git-Flow map, to an environment name with
a human reason."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase

from ..errors import ConfigError
from .context import TAG_PREFIX, CIContext

# Git Flow. First match wins after exact names. release/* is the stabilisation branch that
# is tested before it merges to main, so it goes to dev, not prod; v1.2.3-style tags release.
DEFAULT_BRANCH_MAP: Mapping[str, str] = {
    "main": "prod",
    "master": "prod",
    "hotfix/*": "prod",
    "develop": "dev",
    "release/*": "dev",
    "feature/*": "preview",
    "bugfix/*": "preview",
    "tag:v[0-9]*": "prod",
}
PROD = "prod"  # the environment a PR/MR build never maps to
PROD_NAMES = (PROD, "production")  # environments treated as production wherever it matters
PR_ENV = "preview"  # where a PR/MR build goes instead


def _match(ref: str, mapping: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(env, pattern): an exact name wins, then the first fnmatch pattern in mapping order."""
    if ref in mapping:
        return mapping[ref], ref
    for pattern, env in mapping.items():
        if fnmatchcase(ref, pattern):
            return env, pattern
    return None, None


def _checked_map(branch_map: object) -> tuple[Mapping[str, str], str]:
    if not branch_map:
        return DEFAULT_BRANCH_MAP, "the default Git-Flow map"
    # Duck-typed: invoke hands nested config over as a DataProxy, which is no Mapping.
    items = getattr(branch_map, "items", None)
    mapping = dict(items()) if callable(items) else None
    if mapping is None or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in mapping.items()):
        raise ConfigError(
            f"invoke config 'agentrun.branch_map' must map branch patterns to environment names "
            f"(e.g. {{'main': 'prod', 'feature/*': 'preview', 'tag:v*': 'prod'}}), got {branch_map!r}. "
            f"Fix it in invoke.yaml.")
    return mapping, "invoke config agentrun.branch_map"


def choose_env(ci: CIContext, *, explicit: str | None, branch_map: object) -> tuple[str, str]:
    """(environment name, why). ``--env`` wins; a laptop defaults to ``local``; CI maps its ref.

    ``branch_map`` (invoke config ``agentrun.branch_map``: fnmatch pattern -> env, tags written
    ``tag:<pattern>``) replaces :data:`DEFAULT_BRANCH_MAP`. A PR/MR build maps by its source
    branch but never to ``prod`` (it gets ``preview``, also when its branch is unmapped). An
    unmapped branch or tag of any other CI build is a :class:`ConfigError`.
    """
    if explicit is not None:
        if not explicit.strip():
            # An empty --env (an unset CI variable, say) must not fall back to the branch's environment.
            raise ConfigError(f"--env {explicit!r} is empty: name an environment (envs/<name>.yaml), or leave "
                              "--env out to use the default (local on a laptop, the branch's environment in CI).")
        return explicit, "--env was given"
    if not ci.is_ci:
        return "local", "not running in CI (a laptop): the default is 'local'; pass --env to choose another"
    mapping, where = _checked_map(branch_map)
    ref = ci.ref
    what = f"tag '{ci.tag}'" if ci.tag else f"branch '{ci.branch}'"
    if ci.is_pr:
        pr = f"{'PR/MR #' + ci.pr_number if ci.pr_number else 'a PR/MR build'} from branch '{ci.branch}'"
        env, pattern = _match(ref, mapping) if ref else (None, None)
        if env is None:
            return PR_ENV, f"{pr} matches no pattern in {where}; a PR/MR build defaults to '{PR_ENV}'"
        if env == PROD:
            return PR_ENV, f"{pr} matches '{pattern}' -> '{PROD}' in {where}, but a PR/MR build never goes to '{PROD}'"
        return env, f"{pr} matches '{pattern}' in {where}"
    if ref is None:
        raise ConfigError(
            f"running in CI ({ci.platform}) but no branch or tag could be found (no branch variable, and the "
            f"checkout's HEAD is detached or missing), so no environment can be chosen. Pass --env NAME, "
            f"or check out a branch.")
    env, pattern = _match(ref, mapping)
    if env is None:
        example = f"'{TAG_PREFIX}{ci.tag}'" if ci.tag else f"'{ci.branch}'"
        raise ConfigError(
            f"{what} ({ci.platform}) matches no pattern in {where} ({', '.join(mapping)}), so no environment "
            f"can be chosen. Pass --env NAME, or map it in invoke.yaml under agentrun.branch_map, e.g. "
            f"{example}: dev (fnmatch patterns; tags are written 'tag:<pattern>'; the map replaces the default).")
    return env, f"{what} matches '{pattern}' in {where}"
