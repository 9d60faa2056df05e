"""The embedded emulator's lifecycle for this project: the only door to it outside the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..emulator.lifecycle import EmulatorInfo

# The emulator's OSS bucket that holds the local environment's release state.
EMULATOR_BUCKET = "agentrun-tasks-state"


def start_emulator(root: Path, port: int = 0) -> EmulatorInfo:
    """Start this project's embedded emulator (or find the one running): its URL, pid and ports."""
    from ..emulator import lifecycle

    return lifecycle.ensure_running(root, port=port)


def stop_emulator(root: Path) -> bool:
    """Stop this project's emulator and its agents; False when none was running."""
    from ..emulator import lifecycle

    return lifecycle.stop(root)


def emulator_status(root: Path) -> dict | None:
    """The running emulator's URL, pid and agent processes, or None."""
    from ..emulator import lifecycle

    return lifecycle.status(root)
