"""Serve a local test server from a thread of the test process, and stop it with the block."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["serving"]


@contextmanager
def serving(server: socketserver.BaseServer, name: str = "loopback-server") -> Iterator[None]:
    """``server`` (bound, e.g. to ``("127.0.0.1", 0)``) answers from a daemon thread until the
    block ends; then it stops, closes its socket and its thread is joined, so no port outlives a test."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
