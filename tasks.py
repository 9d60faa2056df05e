"""This repository's own composition of agentrun-tasks: it releases the example agent in code/
to the environments in envs/. Run ``invoke --list`` to see the tasks."""

from agentrun_tasks.tasks import ns  # noqa: F401  (invoke looks for `ns`)
