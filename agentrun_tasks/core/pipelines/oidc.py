"""The OIDC form of the jobs of environments that assume a role with the CI job's token
(``credentials.oidc``): each platform's switch that issues the token, and no AccessKey secrets.

One function per platform, applied to a rendered document before it is written: a job belongs
to an environment by its deployment environment (GitHub ``environment``, GitLab
``environment.name``, Bitbucket ``deployment``). CircleCI needs nothing here: its jobs already
run with a context, which is what makes CircleCI issue ``CIRCLE_OIDC_TOKEN_V2``.
"""

from __future__ import annotations

from ..federation import DEFAULT_AUDIENCE, GITLAB_DEFAULT_VAR
from . import model as m


def _env_of(deployment: object) -> str | None:
    """``prod``, ``prod-rotation``, ``preview/$CI_COMMIT_REF_SLUG`` -> the environment it deploys."""
    name = deployment.get("name") if isinstance(deployment, dict) else deployment
    if not isinstance(name, str):
        return None
    return name.split("/")[0].removesuffix("-rotation")


def github(jobs: dict, opts: m.Options) -> None:
    """``permissions: id-token: write`` on those jobs only, and their AccessKey secrets dropped."""
    for job in jobs.values():
        env = _env_of(job.get("environment"))
        if env in opts.oidc:
            profile = opts.profile(env)
            keys = {*m.secret_names(profile)[:2], m.pair_secret(profile)}
            job["env"] = {k: v for k, v in job.get("env", {}).items() if k not in keys}
            job["permissions"] = {"contents": "read", "id-token": "write"}


def gitlab(doc: dict, opts: m.Options) -> None:
    """``id_tokens:`` with STS's audience, into the variable the library reads."""
    for job in doc.values():
        if isinstance(job, dict) and _env_of(job.get("environment")) in opts.oidc:
            job["id_tokens"] = {GITLAB_DEFAULT_VAR: {"aud": DEFAULT_AUDIENCE}}


def bitbucket(pipelines: dict, opts: m.Options) -> None:
    """``oidc: true`` on the steps of those deployments."""
    def walk(node: object) -> None:
        if isinstance(node, dict):
            step = node.get("step")
            if isinstance(step, dict) and _env_of(step.get("deployment")) in opts.oidc:
                step["oidc"] = True
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(pipelines)
