"""What ``git status`` says about the checkout: whether the working tree differs from HEAD, so
a version published from it does not claim to be that commit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..core.childenv import allowed


def is_dirty(root: Path) -> bool:
    """True if tracked files are changed or untracked, not ignored files exist (either would be
    packaged); False when clean, or when there is no git or no repository to ask."""
    try:
        proc = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL,
                              env=allowed(os.environ, names=("GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_GLOBAL")))
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())
