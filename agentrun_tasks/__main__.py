"""``python -m agentrun_tasks``: the ``agentrun-tasks`` command (invoke, usage errors exit 2)."""

from .cli import program

program.run()
