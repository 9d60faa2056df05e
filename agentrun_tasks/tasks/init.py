"""The ``init`` task (also ``agentrun-tasks init`` where there is no tasks.py yet): scaffold a project."""

from __future__ import annotations

from pathlib import Path

from invoke import task

from ..core.errors import ConfigError
from ..core.fileio import write_atomic
from ..core.report import Reporter
from ._common import cli_errors, collection


@task(iterable=["from_"], help={
    "from": "a Serverless Devs file to import, repeatable: s.prod.yaml, s.yaml=prod (env name), s.yaml#resource",
    "inline": "write the agent into the env files instead of importing the s.yaml (s_yaml:)",
    "force": "replace files that exist (without it init refuses and changes nothing)",
})
@cli_errors
def init(c, from_=None, inline=False, force=False):
    """Create tasks.py, envs/ (local plus one per target), .env.example, .gitignore entries.

    Without --from: envs/dev.yaml and envs/prod.yaml for an example agent in code/ (written
    there when code/ does not exist). With --from s.prod.yaml --from s.dev.yaml: one
    environment per file, named after it (s.<env>.yaml; s.yaml is dev), importing its agent;
    envs/local.yaml rehearses the first non-production one on the embedded emulator, so
    `invoke deploy` works at once. An existing file is never replaced without --force (exit 2,
    nothing written); .gitignore only gets the missing entries.
    """
    from ..core.scaffold import plan, source
    from ..core.yamlfile import load_yaml

    root = Path.cwd()
    sources = []
    for spec in from_ or ():
        path = spec.partition("=")[0].partition("#")[0]
        if not (root / path).is_file():
            raise ConfigError(f"--from {spec}: {path} does not exist under {root}.")
        sources.append(source(spec, load_yaml(root / path, path)))
    gitignore = root / ".gitignore"
    files = plan(sources, project=root.name, inline=inline, code_exists=lambda src: (root / src).is_dir(),
                 gitignore=gitignore.read_text() if gitignore.is_file() else "")
    taken = [name for name in files if name != ".gitignore" and (root / name).exists()]
    if taken and not force:
        raise ConfigError(f"{taken[0]} already exists" + (f" (and {len(taken) - 1} more)" if len(taken) > 1 else "")
                          + "; nothing was written.", hint="Pass --force to replace them, or move them away.")
    reporter = Reporter()
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, text.encode(), mode=0o644)
        reporter.line(f"wrote {name}")
    reporter.line("next: `invoke deploy` deploys the agent on the embedded emulator; "
                  "`invoke doctor --env <env>` checks a cloud environment")


ns = collection("init", init, default=init)
