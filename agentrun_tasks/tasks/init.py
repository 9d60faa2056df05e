"""The ``init`` task (also ``agentrun-tasks init`` where there is no tasks.py yet): scaffold a project."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from invoke import task

from ..core.errors import AgentrunTasksError, ConfigError
from ._common import cli_errors, collection

if TYPE_CHECKING:
    from ..core.report import Reporter

__all__ = ["init", "ns"]


@task(iterable=["from_"], help={
    "from": "a Serverless Devs file to import, repeatable: s.prod.yaml, s.yaml=prod (env name), s.yaml#resource",
    "inline": "write the agent into the env files instead of importing the s.yaml (s_yaml:)",
    "force": "replace files that exist (without it init refuses and changes nothing)",
    "locks": "compile requirements.lock and requirements-test.lock with uv (--no-locks: only print the commands)",
})
@cli_errors
def init(c, from_=None, inline=False, force=False, locks=True):
    """Create tasks.py, envs/, pyproject.toml and its locks, a day-one test, .env.example, .gitignore.

    Without --from: envs/dev.yaml and envs/prod.yaml for an example agent in code/ (written
    there when code/ does not exist). With --from s.prod.yaml --from s.dev.yaml: one
    environment per file, named after it (s.<env>.yaml; s.yaml is dev), importing its agent;
    envs/local.yaml rehearses the first non-production one on the embedded emulator, so
    `invoke deploy` works at once. pyproject.toml pins agentrun-tasks (and pytest in its `test`
    extra) and declares no package, so `pip install -e .` installs what the tasks need; uv (where
    installed) compiles it into requirements.lock and requirements-test.lock, which the pipelines
    of `invoke ci.init` install. tests/test_agent_smoke.py deploys the agent on the embedded
    AgentRun and asks it a question, so `invoke ci.test` passes on day one. An existing
    pyproject.toml is kept; any other existing file is never replaced without --force (exit 2,
    nothing written); .gitignore only gets the missing entries.
    """
    from .. import __version__
    from ..core.fileio import write_atomic
    from ..core.report import Reporter
    from ..core.scaffold import compatible, plan, source
    from ..core.yamlfile import load_yaml
    from ..flows.ci import lock_commands

    root = Path.cwd()
    sources = []
    for spec in from_ or ():
        path = spec.partition("=")[0].partition("#")[0]
        if not (root / path).is_file():
            raise ConfigError(f"--from {spec}: {path} does not exist under {root}.")
        sources.append(source(spec, load_yaml(root / path, path)))
    gitignore = root / ".gitignore"
    had_pyproject = (root / "pyproject.toml").is_file()
    files = plan(sources, project=root.name, inline=inline, code_exists=lambda src: (root / src).is_dir(),
                 gitignore=gitignore.read_text() if gitignore.is_file() else "", pin=compatible(__version__),
                 python_project=had_pyproject and not force)
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
    if "pyproject.toml" not in files:
        reporter.line("kept pyproject.toml: add agentrun-tasks to its dependencies and pytest to a `test` extra, "
                      f"then make the lock files: `{'` and `'.join(lock_commands())}`")
    elif not locks:
        reporter.line(f"make the lock files the pipelines install from: `{'` and `'.join(lock_commands())}`")
    else:
        _locks(root, reporter, lock_commands())
    reporter.line("next: `invoke deploy` deploys the agent on the embedded emulator; "
                  "`invoke doctor --env <env>` checks a cloud environment")


def _locks(root: Path, reporter: Reporter, commands: list[str]) -> None:
    """The lock files the pipelines install from; a failure to make them is a warning (the other
    files are written and fine), with the commands to make them by hand."""
    from ..flows.ci import compile_locks

    try:
        written = compile_locks(root)
    except AgentrunTasksError as exc:
        reporter.warn(f"{exc} No lock files were written; make them with `{'` and `'.join(commands)}`.")
        return
    if written is None:
        reporter.warn("uv is not installed, so no lock files were written; the generated pipelines install from "
                      f"them: `pip install uv`, then `{'` and `'.join(commands)}`.")
    else:
        reporter.line(f"wrote {', '.join(written)} (uv pip compile)")


ns = collection("init", init, default=init)
