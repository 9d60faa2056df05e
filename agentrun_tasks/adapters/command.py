"""Running an external program: the one place that starts one for the Serverless Devs driver,
``invoke doctor`` (``s``, ``npm``, ``node``, ``docker``) and ``invoke ci.test``.

Argv lists only (never a shell string), secrets only through ``env``: the command line of a
process is world-readable and ends up in error messages. :func:`run` gives no standard input
(nothing can prompt) and captures both streams; :func:`stream` is for a command the user wrote
and watches (the project's tests), so it shares this process's terminal input and copies its
output as it comes.
"""

from __future__ import annotations

import codecs
import locale
import logging
import shlex
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO

from ..core.errors import ConfigError, WaitTimeoutError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120.0) -> Completed:
    """Run ``argv`` to completion and capture both streams; a failing exit code is returned, not raised.

    A missing program is a :class:`ConfigError` (exit 2) naming it; running past ``timeout``
    seconds is a :class:`WaitTimeoutError` (exit 6).
    """
    argv = tuple(str(a) for a in argv)
    logger.debug("run %s", shlex.join(argv))
    try:
        proc = subprocess.run(argv, env=dict(env) if env is not None else None, cwd=cwd, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=timeout, errors="replace")
    except FileNotFoundError:
        raise ConfigError(f"{argv[0]} is not installed (not found on PATH).") from None
    except subprocess.TimeoutExpired:
        raise WaitTimeoutError(f"`{shlex.join(argv)}` did not finish within {timeout:.0f}s.") from None
    return Completed(argv, proc.returncode, proc.stdout or "", proc.stderr or "")


def stream(argv: Sequence[str], *, out: TextIO | None, err: TextIO | None,
           env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
    """Run ``argv`` to completion and return its exit code (negative: the signal that ended it).

    Its stdout and stderr are pipes whose text is written to ``out`` and ``err`` as it arrives
    (``None``: discarded); its standard input is this process's. No time limit. A Ctrl-C here
    does not stop the wait: the program, in the same foreground process group, got it too and
    decides when to end (as invoke's own runner does). A missing program is a :class:`ConfigError`.
    """
    argv = tuple(str(a) for a in argv)
    logger.debug("stream %s", shlex.join(argv))
    try:
        proc = subprocess.Popen(argv, env=dict(env) if env is not None else None, cwd=cwd,
                                stdout=subprocess.PIPE if out else subprocess.DEVNULL,
                                stderr=subprocess.PIPE if err else subprocess.DEVNULL)
    except FileNotFoundError:
        raise ConfigError(f"{argv[0]} is not installed (not found on PATH).") from None
    copies = [threading.Thread(target=_copy, args=(pipe, to), daemon=True)
              for pipe, to in ((proc.stdout, out), (proc.stderr, err)) if pipe is not None and to is not None]
    for copy in copies:
        copy.start()
    while True:
        try:
            proc.wait()
            break
        except KeyboardInterrupt:
            continue
    for copy in copies:
        copy.join()
    return proc.returncode


def _copy(pipe: IO[bytes], to: TextIO) -> None:
    """Copy a child's output pipe to ``to`` until it closes, decoded as the locale says."""
    decoder = codecs.getincrementaldecoder(locale.getpreferredencoding(False))("replace")
    with pipe:
        while chunk := pipe.read1(65536):  # type: ignore[attr-defined]
            to.write(decoder.decode(chunk))
            to.flush()
    if tail := decoder.decode(b"", final=True):
        to.write(tail)
        to.flush()
