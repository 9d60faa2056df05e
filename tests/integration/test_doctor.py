"""``invoke doctor`` as a user runs it: real invoke processes on a copy of this project."""

from __future__ import annotations

import json
import os
import shutil

from alibabacloud_ram20150501 import models as ram
from alibabacloud_ram20150501.client import Client as RamClient

from agentrun_tasks.emulator.account import BOOTSTRAP_USER
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.project import clean_environ


def checks(proc) -> dict:
    return {c["check"]: c for c in json.loads(proc.stdout)["checks"]}


def test_the_local_environment_passes_and_an_administrator_policy_is_flagged(project):
    first = project.invoke("doctor", "--json")
    assert first.returncode == 0, first.stderr
    found = checks(first)
    assert {found[n]["status"] for n in ("python", "emulator", "credentials", "identity")} == {"ok"}
    assert found["runtime"]["status"] == "warn"
    assert found["runtime"]["fix"] == "invoke deploy"
    assert found["node"]["status"] == "skip"
    assert found["least privilege"]["status"] == "ok"
    with running_emulator(project.root) as emu:  # the one doctor started
        RamClient(emu.openapi_config()).attach_policy_to_user(ram.AttachPolicyToUserRequest(
            policy_name="AdministratorAccess", policy_type="System", user_name=BOOTSTRAP_USER))
        secret = emu.access_key_secret.reveal()
        again = project.invoke("doctor")
    assert again.returncode == 0, again.stderr  # a warning, not a failure
    assert "AdministratorAccess" in again.stdout
    assert "detach AdministratorAccess" in again.stdout
    assert '"agentrun:PublishRuntimeVersion"' in again.stdout  # the minimal policy document
    for proc in (first, again):
        assert secret not in proc.stdout + proc.stderr


def test_missing_cloud_credentials_fail_with_exit_3_and_say_what_to_do(project):
    proc = project.invoke("doctor", "--env", "dev", "--json")
    assert proc.returncode == 3, proc.stderr
    found = checks(proc)
    assert found["credentials"]["status"] == "fail"
    assert "ALIYUN_ACCESS_KEY_ID_DEV" in found["credentials"]["fix"]
    assert "identity" not in found  # nothing is called without a key
    assert "doctor: 1 check(s) failed (credentials)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serverless_devs_without_s_says_how_to_get_it_and_fix_installs_it(project):
    env_file = project.root / "envs" / "dev.yaml"
    env_file.write_text(env_file.read_text().replace("driver: openapi", "driver: serverless-devs"))
    node_only = os.pathsep.join({os.path.dirname(shutil.which("node")), os.path.dirname(shutil.which("python3"))})
    environ = clean_environ(PATH=node_only, HOME=str(project.root))
    proc = project.invoke("doctor", "--env", "dev", "--json", env=environ)
    found = checks(proc)
    assert found["node"]["status"] == "ok"
    assert found["s"]["status"] == "fail"
    assert "invoke doctor --fix" in found["s"]["fix"]
    assert found["component cache"]["status"] == "warn"
    fixed = project.invoke("doctor", "--env", "dev", "--fix", "--json", env={**environ, "PATH": os.environ["PATH"]},
                           timeout=600)
    found = checks(fixed)
    assert found["s"]["status"] == "ok", found["s"]
    assert found["s"]["fixed"], found["s"]
    assert (project.root / ".agentrun/tools/s/node_modules/.bin/s").exists()
    assert fixed.returncode == 3  # the dev environment still has no credentials here


def test_key_management_is_scoped_to_the_keys_own_user_and_a_user_star_policy_is_flagged(project):
    first = project.invoke("doctor", "--json")
    assert first.returncode == 0, first.stderr
    ram_statements = [s for s in json.loads(first.stdout)["minimal_policy"]["Statement"]
                      if any(a.startswith("ram:") for a in s["Action"])]
    assert [s["Resource"] for s in ram_statements] == [[f"acs:ram::{ram_statements[0]['Resource'][0].split(':')[3]}"
                                                         f":user/{BOOTSTRAP_USER}"]]
    minting = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["ram:CreateAccessKey"],
                                                         "Resource": "acs:ram::*:user/*"}]})
    with running_emulator(project.root) as emu:  # the one doctor started
        client = RamClient(emu.openapi_config())
        client.create_policy(ram.CreatePolicyRequest(policy_name="ci-keys", policy_document=minting))
        client.attach_policy_to_user(ram.AttachPolicyToUserRequest(policy_name="ci-keys", policy_type="Custom",
                                                                   user_name=BOOTSTRAP_USER))
        again = project.invoke("doctor", "--json")
    assert again.returncode == 0, again.stderr  # a warning, not a failure
    found = checks(again)["least privilege"]
    assert found["status"] == "warn"
    assert "ci-keys" in found["detail"]
    assert "any RAM user" in found["detail"]
    assert f"user/{BOOTSTRAP_USER}" in found["fix"]
