"""Who acts, in history and notifications alike: the CI actor, else the local user (never null)."""

from __future__ import annotations

import getpass
from types import SimpleNamespace

from agentrun_tasks.core.cienv import CIContext, who
from agentrun_tasks.core.notify import DEPLOY_SUCCEEDED, event_from_ci

ENV = SimpleNamespace(name="dev", agent_name="demo")


def test_a_laptop_run_names_the_local_user_and_ci_its_actor():
    laptop = CIContext(platform="local", is_ci=False)
    assert who(laptop) == getpass.getuser()
    assert event_from_ci(DEPLOY_SUCCEEDED, ENV, laptop).actor == getpass.getuser()
    ci = CIContext(platform="github", is_ci=True, actor="octocat")
    assert event_from_ci(DEPLOY_SUCCEEDED, ENV, ci).actor == "octocat"
