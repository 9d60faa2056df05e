"""Keys: deploy, rotate, deploy, rotate again, the new key going to a dotenv file and the keyring;
the chat URL deploy prints answers an OpenAI client as printed; notifications name who acted;
with the notify channel's variable unset, the tasks that send nothing still run."""

from __future__ import annotations

import getpass
import json
import re
import urllib.request

from agentrun_tasks.emulator.account import BOOTSTRAP_USER
from agentrun_tasks.testing.keyring import DIR_VAR
from agentrun_tasks.testing.project import clean_environ
from agentrun_tasks.testing.receivers import robot
from agentrun_tasks.testing.rotation import ram_keys

from .conftest import ok

SETTINGS = """
credentials:
  sinks: [{type: dotenv}, {type: keyring}]
notify:
  channels: [{type: webhook, webhook: "${env('JOURNEY_HOOK')}", on: [all]}]
"""


def test_keys(project, tmp_path):
    (project.root / "envs" / "local.yaml").write_text((project.root / "envs" / "local.yaml").read_text() + SETTINGS)
    (tmp_path / "kr").mkdir()
    keyring = {"PYTHON_KEYRING_BACKEND": "agentrun_tasks.testing.keyring.FileKeyring", DIR_VAR: str(tmp_path / "kr")}
    with robot("webhook") as hook:
        environ = clean_environ(**keyring, JOURNEY_HOOK=hook.url)

        deployed = ok(project.invoke("deploy", env=environ))
        chat_url = re.search(r"^chat +(\S+) ", deployed, re.M)[1]
        base_url = re.search(r"^base URL +(\S+) ", deployed, re.M)[1]
        assert chat_url == base_url + "/chat/completions"
        posted = urllib.request.Request(chat_url, method="POST", headers={"content-type": "application/json"},
                                        data=b'{"model": "agent", "messages": [{"role": "user", "content": "hi"}]}')
        with urllib.request.urlopen(posted, timeout=30) as response:  # curl -X POST <printed URL>, as is
            assert json.loads(response.read())["choices"][0]["message"]["content"]
        import openai  # here, not at the top: every worker collects this module

        client = openai.OpenAI(base_url=base_url, api_key="not-checked-locally", max_retries=0)
        answer = client.chat.completions.create(model="agent", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content

        first = json.loads(ok(project.invoke("rotate-keys", "--json", env=environ)))
        assert first["result"] == "rotated"
        assert set(first["read_back"]) == {"dotenv:.env.local", "keyring:agentrun-tasks/local"}
        assert ok(project.invoke("deploy", env=environ))  # with the key the rotation wrote
        second = json.loads(ok(project.invoke("rotate-keys", "--json", env=environ)))
        assert second["result"] == "rotated"
        assert second["old_key"] == first["new_key"]
        statuses = sorted(k["status"] for k in ram_keys(project.root, BOOTSTRAP_USER).values())
        assert statuses == ["Active", "Inactive"]  # the first key deleted, the second soaking
        dotenv = (project.root / ".env.local").read_text()
        assert second["new_key"][-4:] in dotenv

        # Two deploys and two rotations announced, each naming who acted, as history does (not null).
        assert len(hook.messages) >= 4
        assert all(m.get("actor") == getpass.getuser() for m in hook.messages)

    # The channel's variable unset: reading tasks and a dry run still work (they send nothing).
    unset = clean_environ(**keyring)
    for task in (("info",), ("history",), ("rotate-keys", "--dry-run")):
        ok(project.invoke(*task, env=unset))
    refused = project.invoke("deploy", env=unset)  # a deploy notifies: it says which variable, exit 2
    assert refused.returncode == 2
    assert "JOURNEY_HOOK, which is not set" in refused.stderr
