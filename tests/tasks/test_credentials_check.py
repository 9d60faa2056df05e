"""credentials.check calls STS where the environment says (its control_endpoint, like every other
call), and a host name that does not resolve is a configuration error at once, not six retries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agentrun_tasks.testing.emulator import emulator  # noqa: F401 (fixture)

AGENT = "agent:\n  name: demo\n  code: {src: code, language: python3.12, command: [python3, app.py]}\n"


def check(root: Path, env_name: str, **extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "LANG": "C.UTF-8",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **extra}
    return subprocess.run([sys.executable, "-m", "invoke", "credentials.check", "--env", env_name, "--json"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)


def project(root: Path, env_name: str, settings: str) -> Path:
    (root / "envs").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "tasks.py").write_text("from agentrun_tasks.tasks import ns  # noqa: F401\n")
    (root / "envs" / f"{env_name}.yaml").write_text("region: cn-hangzhou\n" + settings + AGENT)
    return root


def test_check_calls_sts_at_the_control_endpoint(emulator, tmp_path):  # noqa: F811
    # A cloud environment (no emulator: true) whose control_endpoint is a gateway: here the emulator.
    root = project(tmp_path / "proj", "gw", f"control_endpoint: {emulator.endpoint}\nprotocol: http\n")
    proc = check(root, "gw", ALIYUN_ACCESS_KEY_ID_GW=emulator.access_key_id,
                 ALIYUN_ACCESS_KEY_SECRET_GW=emulator.access_key_secret.reveal())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["AccountId"] == emulator.account_id
    assert emulator.access_key_secret.reveal() not in proc.stdout + proc.stderr


def test_a_host_that_does_not_resolve_is_a_config_error_at_once(tmp_path):
    root = project(tmp_path / "proj", "dev", "control_endpoint: agentrun.cn-hangzhou.does-not-resolve.invalid\n")
    proc = check(root, "dev", ALIYUN_ACCESS_KEY_ID_DEV="LTAIFAKEdns0000000000001",
                 ALIYUN_ACCESS_KEY_SECRET_DEV="FAKEdnssecret000000000000000001")
    assert proc.returncode == 2, proc.stderr
    assert "retrying" not in proc.stderr  # reported at once
    assert "does-not-resolve.invalid does not resolve" in json.loads(proc.stdout)["error"]
