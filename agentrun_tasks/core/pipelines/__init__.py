"""Complete CI pipelines, one module per platform, rendered from one model (:mod:`.model`).

``render(platform, options, command)`` returns the files to write (pure: text in, text out);
``project_options(root, ...)`` reads what the project's files decide (``prod_sinks``: what the
rotation job must bind from envs/prod.yaml; ``installs_itself``: whether the install steps build the
project itself; ``oidc_envs``, ``env_profiles``). ``invoke ci.init`` writes the files, or compares
them with the committed ones (``--check``).
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from types import ModuleType

from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib
from . import bitbucket, circleci, github, gitlab, jenkins, yunxiao
from .model import KINDS, GeneratedFile, Options, SinkNeeds, sink_needs

PLATFORMS: dict[str, ModuleType] = {
    "github": github, "gitlab": gitlab, "jenkins": jenkins,
    "yunxiao": yunxiao, "bitbucket": bitbucket, "circleci": circleci,
}

__all__ = ["KINDS", "PLATFORMS", "GeneratedFile", "Options", "SinkNeeds", "command_line", "env_profiles",
           "installs_itself", "oidc_envs", "out_of_date", "parse_kinds", "prod_sinks", "project_options", "render",
           "warnings"]
PROD_ENV = "prod"  # the environment the generated release, rollback and rotation jobs act on


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """``--jobs test,prod`` -> the job groups, in the model's order; None means all of them."""
    if not text:
        return KINDS
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(wanted - set(KINDS))
    if unknown or not wanted:
        raise ConfigError(f"--jobs takes a comma-separated list of {', '.join(KINDS)}; "
                          f"got {text!r}{' (unknown: ' + ', '.join(unknown) + ')' if unknown else ''}.")
    return tuple(kind for kind in KINDS if kind in wanted)


def _env_credentials(root: Path) -> dict[str, dict]:
    """The ``credentials:`` mapping of each pipeline environment (dev, prod, preview) whose env file
    exists, read as written (as :func:`prod_sinks` reads it; ``{}`` where it sets none). A file
    `invoke` itself refuses, with a clear message when it is used, is left out."""
    from ..yamlfile import load_yaml

    found = {}
    for name in ("dev", PROD_ENV, "preview"):
        path = root / "envs" / f"{name}.yaml"
        if not path.is_file():
            continue
        try:
            doc = load_yaml(path, f"envs/{name}.yaml")
        except ConfigError:
            continue
        credentials = doc.get("credentials") if isinstance(doc, dict) else None
        found[name] = credentials if isinstance(credentials, dict) else {}
    return found


def project_options(root: Path, *, jobs: str | None = None, python: str | None = None) -> Options:
    """The options ``invoke ci.init`` renders a project's pipeline with: the ``--jobs`` and
    ``--python`` asked for, and what the project's files decide (OIDC environments, prod's sinks,
    the key names' profiles, whether the project installs itself). An OIDC prod has no key to
    rotate, so no rotate-keys job."""
    oidc = oidc_envs(root)
    kinds = tuple(k for k in parse_kinds(jobs) if not (k == "rotate" and PROD_ENV in oidc))
    return Options(kinds=kinds, python=python or Options.python, oidc=oidc, sinks=prod_sinks(root),
                   install_self=installs_itself(root), profiles=env_profiles(root))


def oidc_envs(root: Path) -> tuple[str, ...]:
    """The pipeline's environments whose env file sets ``credentials.oidc``: their jobs get the CI's
    OIDC token, not keys."""
    return tuple(name for name, credentials in _env_credentials(root).items() if credentials.get("oidc"))


def env_profiles(root: Path) -> tuple[tuple[str, str], ...]:
    """``(env, profile)`` for each pipeline environment's env file: ``credentials.profile``, by default
    the env's name, as loading the environment sets it. The jobs map the key variables of that
    profile (``ALIYUN_ACCESS_KEY_ID_<PROFILE>``, the pair), the names the credential chain reads there."""
    found = _env_credentials(root)
    return tuple((name, str(credentials.get("profile") or name)) for name, credentials in found.items())


def installs_itself(root: Path) -> bool:
    """Whether the jobs install the project itself (``-e .``) after its lock: only a project that
    builds one. As uv decides it: no ``[build-system]``, no package (setuptools would guess one from
    a flat layout of tasks.py, envs/ and code/, and refuse); and not where pyproject.toml says it
    has none: setuptools' ``packages = []`` (as ``agentrun-tasks init`` writes it), ``[tool.uv]
    package = false`` or Poetry's ``package-mode = false``. A project whose ``tasks.py`` imports its
    own package keeps the install, and so does one without pyproject.toml (``ci.init --check``
    then names the file it lacks)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return True
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"pyproject.toml is not valid TOML ({exc}); fix it, then run ci.init again.") from None
    tool = doc.get("tool", {})
    setuptools, uv, poetry = tool.get("setuptools", {}), tool.get("uv", {}), tool.get("poetry", {})
    declares_none = (setuptools.get("packages") == [] and not setuptools.get("py-modules")) \
        or uv.get("package") is False or poetry.get("package-mode") is False
    return "build-system" in doc and not declares_none


def prod_sinks(root: Path) -> SinkNeeds:
    """What envs/prod.yaml's ``credentials.sinks`` need from the pipeline (none without the file):
    the rendered rotation job binds exactly these, so ``ci.init --check`` sees a sink change.
    Read as written, not loaded: generating a pipeline must not need the variables, s.yaml or
    credentials that loading the environment would (a sink naming its token with ``${...}`` is
    refused, the pipeline has to name the variable)."""
    from .. import sinks
    from ..yamlfile import load_yaml

    path = root / "envs" / f"{PROD_ENV}.yaml"
    if not path.is_file():
        return SinkNeeds()
    doc = load_yaml(path, f"envs/{PROD_ENV}.yaml")
    credentials = (doc.get("credentials") if isinstance(doc, dict) else None) or {}
    entries = credentials.get("sinks") if isinstance(credentials, dict) else None
    if not entries:
        return SinkNeeds()
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"envs/{PROD_ENV}.yaml: credentials.sinks must be a list of mappings ({{type: ..., ...}}).")
    for entry in entries:
        templated = sorted(k for k in ("token_env", "user_env", "credential_id") if "${" in str(entry.get(k, "")))
        if templated:
            raise ConfigError(f"envs/{PROD_ENV}.yaml: a {entry.get('type')} sink's {', '.join(templated)} uses "
                              "${...}; the generated pipeline binds these by name, so write the name itself.")
    profile = str(credentials.get("profile") or PROD_ENV)
    return sink_needs(sinks.parse(entries, profile=profile, env_name=PROD_ENV, where=f"{PROD_ENV}.yaml"))


def render(platform: str, options: Options, command: str) -> list[GeneratedFile]:
    """The files of ``platform``'s pipeline; ``command`` is the ci.init line named in their header."""
    module = PLATFORMS.get(platform)
    if module is None:
        raise ConfigError(f"unknown CI platform {platform!r}: choose one of {', '.join(PLATFORMS)}.")
    return module.render(options, command)


def warnings(platform: str, options: Options) -> list[str]:
    """What ``platform``'s pipeline, as rendered, would get wrong for this project's settings, for
    ``ci.init`` to say (each one sentence, with the fix)."""
    return github.sink_gaps(options) if platform == "github" else []


def command_line(platform: str, options: Options) -> str:
    """The ``invoke ci.init`` line that renders these files again (named in their header)."""
    parts = ["invoke ci.init", f"--platform {platform}"]
    if options.kinds != KINDS:
        parts.append(f"--jobs {','.join(options.kinds)}")
    if options.python != Options.python:
        parts.append(f"--python {options.python}")
    return " ".join(parts)


def out_of_date(file: GeneratedFile, committed: str | None) -> str | None:
    """None when ``committed`` is what would be generated, else a one-line summary of the change."""
    if committed is None:
        return f"{file.path}: missing"
    if committed == file.text:
        return None
    diff = list(difflib.unified_diff(committed.splitlines(), file.text.splitlines(), lineterm="", n=0))
    added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
    first = next((line for line in diff if line.startswith("@@")), "")
    return f"{file.path}: out of date (+{added} -{removed} lines, first change at {first.strip('@ ')})"
