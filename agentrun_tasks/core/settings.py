"""The library's own invoke config keys and their defaults (``agentrun.*``): plain data, so the
task layer can declare them without loading anything else (``invoke --list`` stays cheap)."""

from __future__ import annotations

from typing import Any

# The library's invoke config, declared by every collection of agentrun_tasks.tasks: invoke.yaml
# and INVOKE_AGENTRUN_* override only keys a collection declared, and an outer configure()
# replaces a whole subtree, so readers merge over these defaults.
CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "agentrun": {
        # Where envs/ lives (relative to tasks.py); None = the nearest directory holding envs/ at
        # or above the folder of the tasks.py invoke loaded.
        "root": None,
        # The environment when --env is not given (before the CI branch mapping); None = 'local'
        # on a laptop, the branch's environment in CI.
        "env": None,
        # Git-Flow branch patterns -> environment; a PR/MR never maps to prod.
        "branch_map": {},
    },
}
