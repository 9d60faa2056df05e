"""This repository's own composition of agentrun-tasks: it releases the example agent in code/
to the environments in envs/. Run ``invoke --list`` to see the tasks."""

from agentrun_tasks.cli import exit_2_on_usage_errors
from agentrun_tasks.tasks import ns  # noqa: F401  (invoke looks for `ns`)

exit_2_on_usage_errors()  # invoke's parser refusing the command line exits 2 (usage), not 1 (a bug)
