"""``python -m agentrun_tasks.emulator --root DIR [--port 0]``: run the local AgentRun.

Listens on 127.0.0.1 only. Once listening it writes ``<root>/.agentrun/local/emulator.json``
``{pid, port, url, oss_port, oss_url, started_at}`` (OSS listens on a second loopback port, ``--oss-port``); SIGTERM or
SIGINT stops every agent process it started, removes that file and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from aiohttp import web

from ..core.fileio import write_atomic
from .faults import ENV_VAR, Faults
from .oss import make_oss_app
from .server import Emulator, build_app
from .state import INFO_FILE, state_dir


async def serve(root: Path, port: int, oss_port: int = 0) -> None:
    emulator = Emulator(root)
    runner = web.AppRunner(build_app(emulator), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]  # port 0 means "any free port"
    emulator.listening(bound)
    # OSS answers on its own port: its path-style /<bucket>/<key> would shadow the API's paths.
    oss_runner = web.AppRunner(make_oss_app(emulator.state.dir / "oss", emulator.active_secret,
                                            emulator.session_token),
                               access_log=None, handle_signals=False)
    await oss_runner.setup()
    oss_site = web.TCPSite(oss_runner, "127.0.0.1", oss_port)
    await oss_site.start()
    oss_port = oss_runner.addresses[0][1]
    info_path = state_dir(root) / INFO_FILE
    info_path.parent.mkdir(parents=True, exist_ok=True)
    info = {"pid": os.getpid(), "port": bound, "url": f"http://127.0.0.1:{bound}",
            "oss_port": oss_port, "oss_url": f"http://127.0.0.1:{oss_port}", "root": str(Path(root).resolve()),
            "started_at": time.time()}
    write_atomic(info_path, json.dumps(info, indent=1).encode("utf-8"))
    logging.getLogger(__name__).info("listening on http://127.0.0.1:%s (root %s)", bound, root)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await oss_runner.cleanup()
        await runner.cleanup()  # stops the agent processes (app.on_cleanup)
        info_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentrun_tasks.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path, help="project root; state goes to ROOT/.agentrun/local")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--oss-port", type=int, default=0, help="TCP port of its OSS on 127.0.0.1 (0: any free port)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        Faults.parse(os.environ.get(ENV_VAR, ""))
    except ValueError as exc:
        print(f"error: {ENV_VAR} is invalid: {exc}. Example: {ENV_VAR}='throttle=0.3,error5xx=0.1'.",
              file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(args.root, args.port, args.oss_port))
    except OSError as exc:
        print(f"error: the emulator could not listen on 127.0.0.1 (ports {args.port} and {args.oss_port}): {exc}. "
              "Choose another --port or stop what uses it.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
