"""Suite-wide defaults: emulators started by tests run instantly (states still pass through
CREATING/UPDATING, only the cloud-like waits are 0). A test of the latencies themselves sets
``AGENTRUN_EMULATOR_FAULTS`` (e.g. ``latency=0.2``) or posts ``/_emulator/faults``."""

import os

from agentrun_tasks.emulator.faults import ENV_VAR

os.environ.setdefault(ENV_VAR, "latency=0")
