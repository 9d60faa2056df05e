"""A generated pipeline's job as the platform's runner starts it, for journey tests: the job's
shell lines, and the environment the platform gives them, evaluated from the job's own mapping
and what the platform holds (secrets, CI/CD variables, the OIDC token).

    job = github_job(workflow_text, "release-prod")
    env = github_environ(job, secrets=held, base=runner_env, id_token=issuer.github_env())
    for line in github_lines(job):
        subprocess.run(["bash", "-ec", line], env=env, ...)

The install step is left out (``github_lines``, ``gitlab_lines``): the migrate journey runs it in a
fresh virtualenv; a journey that uses this checkout's package starts at the job's ``invoke`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ruamel.yaml import YAML

__all__ = ["github_environ", "github_job", "github_lines", "gitlab_environ", "gitlab_lines"]

INSTALL_STEP = "install"  # the name of the generated GitHub step that installs from the lock
_GITHUB_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_CONTEXT_VALUE = re.compile(r"(secrets|vars|inputs)\.([A-Za-z_][A-Za-z0-9_]*)")
_GITLAB_VAR = re.compile(r"\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))")


def _load(text: str) -> dict:
    return YAML(typ="safe", pure=True).load(text)


def github_job(workflow: str, name: str) -> dict:
    """Job ``name`` of a workflow's text (KeyError if the workflow has none), with the workflow's
    ``permissions`` where the job names none, as GitHub grants them."""
    doc = _load(workflow)
    return {"permissions": doc.get("permissions") or {}, **doc["jobs"][name]}


def github_lines(job: dict) -> list[str]:
    """The job's ``run:`` lines in order, without the install step."""
    return [step["run"] for step in job["steps"] if "run" in step and step.get("name") != INSTALL_STEP]


def github_environ(job: dict, *, secrets: Mapping[str, str], variables: Mapping[str, str] | None = None,
                   inputs: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None,
                   id_token: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (the runner's own variables) plus the job's ``env:``, each ``${{ secrets.X }}``,
    ``${{ vars.X }}`` and ``${{ inputs.X }}`` replaced by its value, or by "" when unset, as GitHub
    does; any other expression raises, so a construct this cannot read never passes unread.
    ``id_token`` (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN) is added only when the job's
    ``permissions`` grant ``id-token: write``, the only case in which GitHub sets them."""
    contexts = {"secrets": secrets, "vars": variables or {}, "inputs": inputs or {}}

    def value(match: re.Match) -> str:
        found = _CONTEXT_VALUE.fullmatch(match.group(1))
        if not found:
            raise ValueError(f"cannot evaluate ${{{{ {match.group(1)} }}}}")
        return str(contexts[found.group(1)].get(found.group(2), ""))

    env = dict(base or {})
    env.update({name: _GITHUB_EXPR.sub(value, str(text)) for name, text in (job.get("env") or {}).items()})
    if id_token and (job.get("permissions") or {}).get("id-token") == "write":
        env.update(id_token)
    return env


def gitlab_lines(pipeline: str, name: str) -> list[str]:
    """Job ``name``'s ``script:`` lines (its ``before_script:``, the install, left out)."""
    return list(_load(pipeline)[name]["script"])


def gitlab_environ(pipeline: str, name: str, *, variables: Mapping[str, str], base: Mapping[str, str] | None = None,
                   id_token: Callable[[str], str] | None = None) -> dict[str, str]:
    """What GitLab gives job ``name``: ``base`` (its predefined variables), the file's global then
    the job's ``variables:`` (``$VAR`` expanded from what is set so far), the project's CI/CD
    ``variables`` for the job's environment (settings win over the file, as GitLab orders them),
    and for each ``id_tokens:`` entry a token for its ``aud`` from ``id_token``, in the variable
    the entry names (a job without ``id_tokens:`` gets none)."""
    doc = _load(pipeline)
    job = doc[name]
    env = dict(base or {})
    for scope in (doc.get("variables") or {}, job.get("variables") or {}):
        env.update({k: _GITLAB_VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), str(v))
                    for k, v in scope.items()})
    env.update(variables)
    for variable, spec in (job.get("id_tokens") or {}).items():
        if id_token is None:
            raise ValueError(f"job {name} asks for an ID token in {variable}, and no issuer was given")
        env[variable] = id_token(spec["aud"])
    return env
