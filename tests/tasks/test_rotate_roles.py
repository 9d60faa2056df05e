"""rotate-keys refuses an environment that assumes a role: there is no AccessKey of its own."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agentrun_tasks.core.cienv import CIContext
from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.flows.rotation_session import refuse_roles as _refuse_roles

BASE = "region: cn-hangzhou\nagent:\n  name: demo\n  code: {src: code, language: python3.12, command: [python3, app.py]}\n"
ROLE = "acs:ram::1234567890123456:role/deployer"


def _session(tmp_path, credentials: str, name: str):
    (tmp_path / "envs").mkdir(exist_ok=True)
    (tmp_path / "envs" / f"{name}.yaml").write_text(BASE + credentials)
    return SimpleNamespace(env=load_env(name, root=tmp_path, environ={}), ci=CIContext("local", False), environ={})


@pytest.mark.parametrize(("credentials", "said"), [
    (f"credentials:\n  oidc: {{role_arn: {ROLE}, provider_arn: 'acs:ram::1234567890123456:oidc-provider/gh', "
     "token_file: /t}\n", "it holds no AccessKey"),
    (f"credentials: {{role_arn: {ROLE}}}\n", "its key only assumes the role"),
], ids=["oidc", "assume-role"])
def test_role_environments_have_nothing_to_rotate(tmp_path, credentials, said):
    with pytest.raises(ConfigError, match=said):
        _refuse_roles(_session(tmp_path, credentials, "ci"))
    _refuse_roles(_session(tmp_path, "", "plain"))  # an AccessKey environment goes on
