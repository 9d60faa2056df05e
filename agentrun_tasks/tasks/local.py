"""Tasks of the ``local`` namespace: the embedded AgentRun emulator of this project.

The emulator keeps its state under ``<root>/.agentrun/local/`` (kept across restarts) and its
bootstrap credentials in ``<root>/.env.local``; ``<root>`` is ``agentrun.root`` or the nearest
directory above the current one that holds ``envs/``.
"""

from __future__ import annotations

from invoke import Collection, task

from ..core.report import Reporter
from ._common import JSON_HELP, cli_errors, project_root


@task(help={"port": "TCP port on 127.0.0.1 (default: any free port)"})
@cli_errors
def up(c, port=None):
    """Start the local emulator in the background, or show the one already running."""
    from ..emulator import lifecycle

    reporter = Reporter()
    root = project_root(c)
    with reporter.progress("local emulator") as update:
        update("starting")
        info = lifecycle.ensure_running(root, port=int(port or 0))
        update("running")
    reporter.line(f"local AgentRun emulator at {info.url} (pid {info.pid}); state in {root / '.agentrun/local'}")
    reporter.output("emulator_url", info.url)


@task
@cli_errors
def down(c):
    """Stop the local emulator and every agent process it started."""
    from ..emulator import lifecycle

    reporter = Reporter()
    if lifecycle.stop(project_root(c)):
        reporter.line("local emulator stopped")
    else:
        reporter.line("local emulator was not running")


@task(help={"json": JSON_HELP})
@cli_errors
def status(c, json=False):
    """Show whether the local emulator runs: URL, pid, agent processes."""
    from ..emulator import lifecycle

    reporter = Reporter(json_mode=json)
    info = lifecycle.status(project_root(c))
    if json:
        reporter.result({"running": True, **info} if info is not None else {"running": False})
    elif info is None:
        reporter.line("local emulator is not running (start it with `invoke local.up`)")
    else:
        reporter.result({"url": info["url"], "pid": info["pid"], "agents": len(info.get("agents", {}))})


ns = Collection("local")
ns.add_task(up)
ns.add_task(down)
ns.add_task(status)
