"""What `invoke rollback` says: mid-canary it names the canary it stopped (it used to print
"version 4 serves 100% (was 4)"); after a release it names the version it left."""

from __future__ import annotations

import pytest

from agentrun_tasks.flows.release.by_hand import RolledBack
from agentrun_tasks.tasks.release import _rolled_back

CASES = [
    ({"result": "rolled-back", "from": "4", "to": "4", "canary": {"5": 0.1}},
     "version 4 serves 100%; the canary (version 5 at 10%) is stopped and marked failed"),
    ({"result": "rolled-back", "from": "2", "to": "1", "canary": {}}, "version 1 serves 100% (was 2, now marked failed)"),
    ({"result": "rolled-back", "from": "3", "to": "3", "canary": {}}, "version 3 serves 100%"),
    ({"result": "already-rolled-back", "from": "2", "to": "2", "canary": {}},
     "already rolled back: version 2 serves 100% since the last rollback; nothing changed "
     "(--to-version picks another version)"),
]


@pytest.mark.parametrize(("data", "line"), CASES, ids=["mid-canary", "after-a-release", "to-itself", "pressed-again"])
def test_rollback_says_what_changed(data, line):
    rolled = RolledBack(env="prod", from_version=data["from"], to=data["to"], result=data["result"], url=None,
                        canary=data["canary"])
    assert _rolled_back(rolled) == line
