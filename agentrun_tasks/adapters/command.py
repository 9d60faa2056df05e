"""Running an external program: the one place that starts one for the Serverless Devs driver and
``invoke doctor`` (``s``, ``npm``, ``node``, ``docker``).

Argv lists only (never a shell string), no standard input (nothing can prompt), secrets only
through ``env``: the command line of a process is world-readable and ends up in error messages.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

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
