"""agentrun-tasks: release Alibaba Cloud AgentRun agents the same way from a laptop and every CI.

The core (``agentrun_tasks.core``) is plain Python and never imports invoke; the task layer
(``agentrun_tasks.tasks``) wires it to the command line. Cloud SDKs are imported lazily, only
by the adapters that need them.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
