"""A project's own tasks.py: two parts of agentrun-tasks under names it chose, and a task of its
own that uses what a library task returned."""

import json
import urllib.request

from invoke import Collection, task

from agentrun_tasks.cli import exit_2_on_usage_errors
from agentrun_tasks.tasks import deploy, release


@task(help={"env": "environment name (envs/<name>.yaml)"})
def smoke(c, env=None):
    """Deploy, then ask the agent one question at the URL the deploy returned."""
    result = deploy.deploy(c, env=env, yes=True)
    body = json.dumps({"model": "agent", "messages": [{"role": "user", "content": "hello"}]}).encode()
    request = urllib.request.Request(result.url + "/openai/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        reply = json.load(answer)["choices"][0]["message"]["content"]
    print(f"{result.url} answered: {reply}")


ns = Collection(smoke)
ns.add_collection(deploy.ns, name="ship")  # invoke ship, invoke ship.info, invoke ship.remove
ns.add_collection(release.ns)  # invoke release, invoke release.rollback, invoke release.history

exit_2_on_usage_errors()  # invoke's parser refusing the command line exits 2 (usage), not 1 (a bug)
