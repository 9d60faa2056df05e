"""release.webhooks through a real `invoke release` on the embedded AgentRun, to a local receiver
that checks the webhook channel's signature: a confirm gate, the pre-rollout notice with the
checks' rows and the post-rollout notice with every step; the URL and secret never show."""

from __future__ import annotations

import secrets as pysecrets
from pathlib import Path

from agentrun_tasks.testing.project import clean_environ
from agentrun_tasks.testing.receivers import robot

from .test_release_checks import add_checks

HOOKS = """\
  webhooks:
    - {type: confirm-rollout, url: "${env('HOOK_URL')}", secret: "${env('HOOK_SECRET')}", interval: 1s}
    - {type: pre-rollout, url: "${env('HOOK_URL')}", secret: "${env('HOOK_SECRET')}"}
    - {type: post-rollout, url: "${env('HOOK_URL')}", secret: "${env('HOOK_SECRET')}"}
  checks:
    - {name: greets, prompt: hi, expect: {contains: ["Hello from version 2"]}}
"""


def test_a_release_asks_its_confirm_hook_and_tells_its_hooks_what_the_checks_and_steps_found(project):
    project.configure_release(steps="[0.5, 1.0]", interval="2s")
    assert project.invoke("release").returncode == 0
    add_checks(project, HOOKS)
    project.set_greeting("Hello from version 2")
    secret = "SNTLHOOK" + pysecrets.token_hex(12)
    with robot("webhook", secret=secret) as receiver:
        receiver.fail_next(1, "500")  # not yet; then yes
        environ = clean_environ(HOOK_URL=receiver.url, HOOK_SECRET=secret)
        proc = project.invoke("release", env=environ)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert receiver.rejected == []
    assert [m["type"] for m in receiver.messages] == ["confirm-rollout", "pre-rollout", "post-rollout"]
    assert "confirm-rollout webhook 'confirm-rollout' confirmed" in proc.stdout
    pre, post = receiver.messages[1], receiver.messages[2]
    assert pre["candidate"] == "2"
    assert pre["stable"] == "1"
    assert pre["result"] == "pass"
    assert pre["steps"][0]["table"][0]["metric"] == "check greets"
    assert post["result"] == "promoted"
    assert [s.get("phase", s["weight"]) for s in post["steps"]] == [
        "pre-rollout", 0.5, 1.0]
    token = receiver.url.rsplit("/", 1)[1]
    for value in (secret, token):
        assert value not in proc.stdout + proc.stderr
        for path in Path(project.root).rglob("*"):
            if path.is_file() and path.suffix not in (".zip", ".pyc"):
                assert value not in path.read_text(errors="replace"), path
