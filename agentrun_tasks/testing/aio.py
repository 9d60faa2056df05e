"""Serve an aiohttp application to synchronous test code.

    from .aio import serving

    with serving(make_oss_app(tmp_path, {"LTAI...": "secret"}.get)) as base_url:
        ...  # http://127.0.0.1:<free port>, served until the block ends
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

__all__ = ["serving"]


@contextmanager
def serving(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on a free loopback port from a private loop thread; yields the base URL.

    On exit the app is cleaned up (its ``on_cleanup`` hooks run), the loop stops and the
    thread is joined, so no port or thread outlives the block.
    """
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
