"""The session: the one place that knows local versus cloud.

It detects the CI platform, loads and protects the environment, resolves credentials, starts
the embedded emulator when the environment targets it, and opens for the flows the driver, the
state stores, the code store and the gate's request-log source. The difference between a laptop
rehearsal and production lives here, in data: the local environment points the same driver,
stores and probes at the emulator over http.

The package's modules: :mod:`.context` (the invoke config, the project, the CI and the reporter,
before an environment is chosen), :mod:`.opening` (choose, load and protect the environment),
:mod:`.workspace` (the :class:`Session` that opens adapters for the flows), :mod:`.logs` (the
log readers it opens), :mod:`.endpoints` (where RAM and STS are called), :mod:`.federated` (role
credentials from STS) and :mod:`.local` (the embedded emulator's lifecycle, for
``local.up``/``local.down``).
"""

from .context import CONFIG_DEFAULTS, Context, open_context, project_root, settings
from .local import EMULATOR_BUCKET, emulator_status, start_emulator, stop_emulator
from .opening import open_control, open_runtime, open_session
from .workspace import Session

__all__ = ["CONFIG_DEFAULTS", "EMULATOR_BUCKET", "Context", "Session", "emulator_status", "open_context",
           "open_control", "open_runtime", "open_session", "project_root", "settings", "start_emulator",
           "stop_emulator"]
