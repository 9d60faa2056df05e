"""Turn SIGINT and SIGTERM into :class:`~agentrun_tasks.core.errors.Interrupted` for a block of
work that must clean up before it exits (a release sends traffic back to stable first)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interruptible() -> Iterator[None]:
    """Raise :class:`Interrupted` in the main thread on the first SIGINT/SIGTERM and ignore the
    ones after it, so a second Ctrl-C cannot cut the cleanup short (SIGKILL still can: a rerun
    resumes). Outside the main thread signals cannot be caught, and nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}

    def raise_interrupted(signum: int, _frame: FrameType | None) -> None:
        for other in SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(signum, signal.Signals(signum).name)

    for signum in SIGNALS:
        signal.signal(signum, raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
