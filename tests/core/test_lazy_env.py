"""An unset ``${env('X')}`` in a notify channel or ``agent.environmentVariables`` fails only where a
task uses it (the channel sends, the agent deploys); anywhere else it fails at load, with one hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun_tasks.core.agentspec import runtime_input
from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.flows.notify import open_notifier

AGENT = """\
region: cn-hangzhou
agent:
  name: demo
  code: {src: code, language: python3.12, command: [python3, app.py]}
"""
NOTIFY = "notify: {channels: [{type: slack, webhook: \"${env('HOOK_NOT_SET')}\"}]}\n"
AGENT_ENV = "  environmentVariables: {API_TOKEN: \"${env('TOKEN_NOT_SET')}\", MODE: fast}\n"
HINT = "Set {0} in the environment (in CI: a variable or secret of the pipeline)."


def load(tmp_path: Path, body: str, **environ: str):
    (tmp_path / "envs").mkdir(exist_ok=True)
    (tmp_path / "envs" / "dev.yaml").write_text(body, encoding="utf-8")
    return load_env("dev", root=tmp_path, environ=environ)


def test_an_unset_notify_variable_loads_and_fails_when_the_channel_opens(tmp_path):
    env = load(tmp_path, AGENT + NOTIFY)
    with pytest.raises(ConfigError) as caught:
        open_notifier(env, reporter=None)
    message = str(caught.value)
    assert "line 5: notify.channels[0].webhook: ${env('HOOK_NOT_SET')} needs the environment variable" in message
    assert message.endswith(HINT.format("HOOK_NOT_SET"))
    assert "default" not in message


def test_an_unset_agent_variable_loads_and_fails_when_deployed(tmp_path):
    env = load(tmp_path, AGENT + AGENT_ENV)
    assert env.agent["environmentVariables"]["MODE"] == "fast"
    with pytest.raises(ConfigError, match=r"agent.environmentVariables.API_TOKEN: .*TOKEN_NOT_SET, which is not set"):
        runtime_input(env.agent, account_id=None, code=None)


def test_set_variables_resolve_as_before(tmp_path):
    env = load(tmp_path, AGENT + AGENT_ENV, TOKEN_NOT_SET="t0ken-value-123")
    assert runtime_input(env.agent, account_id=None, code=None)["environmentVariables"]["API_TOKEN"] == "t0ken-value-123"


@pytest.mark.parametrize("body", [
    AGENT.replace("cn-hangzhou", "${env('REGION_NOT_SET')}"),  # used by every task: fails at load
    AGENT + "notify: {channels: [{type: webhook, webhook: \"https://x.example/${env('REGION_NOT_SET')}\"}]}\n",
], ids=["outside-the-lazy-keys", "part-of-a-longer-value"])
def test_elsewhere_an_unset_variable_fails_at_load_with_the_same_hint(tmp_path, body):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, body)
    assert str(caught.value).endswith(HINT.format("REGION_NOT_SET"))
