"""release.webhooks: the schema (secrets only from the environment or the keyring, one clear
error per kind of bad input) and the payload every hook receives."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.notify import KeyringRef
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.core.webhooks import SCHEMA, payload

ENV = """\
region: cn-hangzhou
agent:
  name: demo
  code: {src: code, language: python3.12, command: [python3, app.py]}
release:
  webhooks:
"""
URL = "https://hooks.example.com/gate/0123456789abcdef0123"
ENVIRON = {"GATE_URL": URL, "GATE_SECRET": "s3cret-signing-key"}


def load(tmp_path: Path, hooks: str):
    (tmp_path / "envs").mkdir(exist_ok=True)
    (tmp_path / "envs" / "dev.yaml").write_text(ENV + hooks, encoding="utf-8")
    return load_env("dev", root=tmp_path, environ=ENVIRON)


def test_hooks_load_with_their_defaults(tmp_path):
    cfg = load(tmp_path, """\
    - {type: confirm-rollout, url: "${env('GATE_URL')}", secret: "${env('GATE_SECRET')}"}
    - {type: confirm-promotion, url: "${env('GATE_URL')}", timeout: 30m, interval: 1m, name: approve}
    - {type: pre-rollout, url: {keyring: hooks/pre}}
    - {type: post-rollout, url: "${env('GATE_URL')}", timeout: 3s}
""")
    rollout, promotion, pre, post = cfg.release.webhooks
    assert (rollout.name, rollout.timeout, rollout.interval) == ("confirm-rollout", 600.0, 10.0)
    assert isinstance(rollout.url, Secret)
    assert rollout.url.reveal() == URL
    assert URL not in repr(rollout)
    assert isinstance(rollout.secret, Secret)
    assert rollout.secret.reveal() == "s3cret-signing-key"
    assert (promotion.name, promotion.timeout, promotion.interval) == ("approve", 1800.0, 60.0)
    assert pre.url == KeyringRef("hooks/pre")
    assert pre.timeout == 10.0
    assert post.timeout == 3.0


@pytest.mark.parametrize(("hooks", "problem"), [
    pytest.param("    - {type: confirm-rollout, url: 'https://hooks.example.com/x'}\n",
                 "release.webhooks[0].url: a webhook URL is a secret", id="url-in-the-file"),
    pytest.param("    - {type: confirm-rolout, url: \"${env('GATE_URL')}\"}\n",
                 "Did you mean 'confirm-rollout'?", id="typo-in-type"),
    pytest.param("    - {type: pre-rollout, url: \"${env('GATE_URL')}\", interval: 5s}\n",
                 "release.webhooks[0].interval: only a confirm hook is asked repeatedly", id="interval-on-a-notice"),
    pytest.param("    - {type: pre-rollout, url: \"${env('GATE_SECRET')}\"}\n",
                 "release.webhooks[0].url: the value of ${env('GATE_SECRET')} is not an http(s) URL",
                 id="not-a-url"),
    pytest.param("    - {type: pre-rollout}\n", "missing required key 'url'", id="no-url"),
    pytest.param("    - {type: pre-rollout, url: \"${env('GATE_URL')}\", retries: 3}\n",
                 "release.webhooks[0].retries: unknown key 'retries'", id="unknown-key"),
    pytest.param("    - {type: pre-rollout, url: \"${env('GATE_URL')}\"}\n"
                 "    - {type: pre-rollout, url: \"${env('GATE_URL')}\"}\n",
                 "two webhooks are named 'pre-rollout'", id="same-name"),
])
def test_bad_hooks_fail_at_load_naming_the_field(tmp_path, hooks, problem):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, hooks)
    assert problem in str(error.value)
    assert error.value.exit_code == 2
    assert "s3cret-signing-key" not in str(error.value)
    assert "0123456789abcdef0123" not in str(error.value)


def test_the_payload_says_what_is_released_where(tmp_path):
    env = load(tmp_path, "    []\n")
    body = payload("post-rollout", env, candidate="3", stable="2", weight=1.0, result="promoted",
                   steps=[{"weight": 0.5, "table": []}])
    assert body == {"schema": SCHEMA, "type": "post-rollout", "env": "dev", "agent": "demo", "endpoint": "prod",
                    "candidate": "3", "stable": "2", "weight": 1.0, "result": "promoted", "reason": "",
                    "steps": [{"weight": 0.5, "table": []}]}
