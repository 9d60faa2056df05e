"""Complete CI pipelines, one module per platform, rendered from one model (:mod:`.model`).

``render(platform, options, command)`` returns the files to write; ``invoke ci.init`` writes
them, or compares them with the committed ones (``--check``). Pure: text in, text out.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from types import ModuleType
from typing import Mapping

from ..errors import ConfigError
from . import bitbucket, circleci, github, gitlab, jenkins, yunxiao
from .model import KINDS, GeneratedFile, Options, SinkNeeds, sink_needs

PLATFORMS: dict[str, ModuleType] = {
    "github": github, "gitlab": gitlab, "jenkins": jenkins,
    "yunxiao": yunxiao, "bitbucket": bitbucket, "circleci": circleci,
}

__all__ = ["KINDS", "PLATFORMS", "GeneratedFile", "Options", "SinkNeeds", "command_line", "out_of_date", "parse_kinds",
           "prod_sinks", "render"]
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


def prod_sinks(root: Path, environ: Mapping[str, str]) -> SinkNeeds:
    """What envs/prod.yaml's ``credentials.sinks`` need from the pipeline (none without the file):
    the rendered rotation job binds exactly these, so ``ci.init --check`` sees a sink change."""
    from .. import config, sinks

    if not (root / "envs" / f"{PROD_ENV}.yaml").is_file():
        return SinkNeeds()
    env = config.load_env(PROD_ENV, root=root, environ=environ)
    entries = env.credentials.sinks
    return sink_needs(sinks.parse(entries, profile=env.credentials.profile, env_name=env.name,
                                  where=env.path.name)) if entries else SinkNeeds()


def render(platform: str, options: Options, command: str) -> list[GeneratedFile]:
    """The files of ``platform``'s pipeline; ``command`` is the ci.init line named in their header."""
    module = PLATFORMS.get(platform)
    if module is None:
        raise ConfigError(f"unknown CI platform {platform!r}: choose one of {', '.join(PLATFORMS)}.")
    return module.render(options, command)


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
