"""Tasks of the ``local`` namespace: the embedded AgentRun emulator of this project.

The emulator keeps its state under ``<root>/.agentrun/local/`` (kept across restarts) and its
bootstrap credentials in ``<root>/.env.local``; ``<root>`` is ``agentrun.root`` or the nearest
directory holding ``envs/`` at or above the folder of the loaded ``tasks.py`` (``invoke -r DIR``).
"""

from __future__ import annotations

from invoke import task

from ..core.errors import ConfigError
from ._common import JSON_HELP, cli_errors, collection

__all__ = ["down", "ns", "status", "up"]


@task(help={"port": "TCP port on 127.0.0.1 (default: any free port)"})
@cli_errors
def up(c, port=None):
    """Start the local emulator in the background, or show the one already running."""
    from ..session import open_context, start_emulator

    port = _port(port)
    ctx = open_context(c)
    reporter, root = ctx.reporter, ctx.root
    with reporter.progress("local emulator") as update:
        update("starting")
        info = start_emulator(root, port=port)
        update("running")
    reporter.line(f"local AgentRun emulator at {info.url} (pid {info.pid}); state in {root / '.agentrun/local'}")
    if port and info.port != port:  # one was running already: it keeps its port
        reporter.warn(f"--port {port} was not used: the emulator was already running on port {info.port}; "
                      "run `invoke local.down` first to move it.")
    reporter.output("emulator_url", info.url)


@task
@cli_errors
def down(c):
    """Stop the local emulator and every agent process it started."""
    from ..session import open_context, stop_emulator

    ctx = open_context(c)
    reporter = ctx.reporter
    if stop_emulator(ctx.root):
        reporter.line("local emulator stopped")
    else:
        reporter.line("local emulator was not running")


@task(help={"json": JSON_HELP})
@cli_errors
def status(c, json=False):
    """Show whether the local emulator runs: URL, pid, agent processes."""
    from ..core.results import TaskResult
    from ..session import emulator_status, open_context

    ctx = open_context(c, json=json)
    reporter = ctx.reporter
    info = emulator_status(ctx.root)
    if json:
        return reporter.result({"running": True, **info} if info is not None else {"running": False})
    if info is None:
        reporter.line("local emulator is not running (start it with `invoke local.up`)")
        return TaskResult({"running": False})
    return reporter.result({"url": info["url"], "pid": info["pid"], "agents": len(info.get("agents", {}))})


def _port(text) -> int:
    try:
        port = int(text or 0)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {text!r} is not a TCP port: give a number from 1 to 65535, or leave it out.")
    return port


ns = collection("local", up, down, status)
