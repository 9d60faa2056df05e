"""invoke deploy on the embedded emulator, end to end, as on a fresh clone."""

from __future__ import annotations

import pytest

from agentrun_tasks.adapters.oss_store import OssStateStore
from agentrun_tasks.emulator import admin, lifecycle
from agentrun_tasks.emulator.account import read_credentials
from agentrun_tasks.session import EMULATOR_BUCKET
from agentrun_tasks.testing.project import chat


def emulator_oss(root):
    key_id, secret, _ = read_credentials(root)
    creds = type("Creds", (), {"access_key_id": key_id, "access_key_secret": secret, "security_token": None})
    return OssStateStore(lifecycle.status(root)["oss_url"], EMULATOR_BUCKET, "agentrun-tasks/", creds, "cn-hangzhou")


def test_fresh_deploy_prints_an_endpoint_that_answers_chat_completions(project):
    proc = project.invoke("deploy")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    url = [line.split()[-1] for line in proc.stdout.splitlines() if line.startswith("endpoint")][-1]
    status, headers, body = chat(url, "hello there")
    assert status == 200
    assert body["choices"][0]["message"]["content"].endswith("You said: hello there")
    assert headers["x-agentrun-version"] == "LATEST"


def test_unchanged_rerun_skips_build_and_update_and_a_one_line_change_is_served(project):
    first = project.invoke_json("deploy")
    assert first["action"] == "created"
    assert first["artifact"]["reused"] is False
    again = project.invoke_json("deploy")
    assert again["action"] == "unchanged"
    assert again["artifact"]["reused"] is True
    assert again["artifact"]["sha256"] == first["artifact"]["sha256"]
    project.set_greeting("Hello from the changed agent")
    changed = project.invoke_json("deploy")
    assert changed["action"] == "updated"
    assert changed["artifact"]["reused"] is False
    _, _, body = chat(changed["url"])
    assert body["choices"][0]["message"]["content"].startswith("Hello from the changed agent")


def test_an_unchanged_deploy_needs_no_lock_and_a_changing_one_waits_for_it(project):
    """A deploy that would write nothing only health-checks, even while a release holds the
    environment's lock; one that would change the runtime is refused (exit 7) and changes nothing."""
    import textwrap
    import time

    project.invoke_json("deploy")
    held = project.root / "held"
    with (project.root / "tasks.py").open("a") as tasks:
        tasks.write(textwrap.dedent(f'''
            from invoke import task as _task
            from agentrun_tasks.flows.records import Records
            from agentrun_tasks.session import open_session


            @_task
            def hold(c):
                records = Records.of(open_session(c, None))
                records.acquire(None, ttl=60, force=False)
                open({str(held)!r}, "w").close()
                time.sleep(120)


            import time
            ns.add_task(hold)
            '''))
    with project.background("hold"):
        deadline = time.monotonic() + 60
        while not held.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert project.state_object("locks/local.json") is not None
        again = project.invoke_json("deploy")
        assert again["action"] == "unchanged"
        assert again["health"]["status"] == 200
        project.set_greeting("Hello while a release holds the lock")
        busy = project.invoke("deploy")
    assert busy.returncode == 7, busy.stderr + busy.stdout
    assert "Hello while" not in chat(again["url"])[2]["choices"][0]["message"]["content"]


def test_an_agent_that_crashes_on_start_fails_with_the_platforms_reason(project):
    app = project.root / "code" / "app.py"
    app.write_text("raise SystemExit('missing MODEL_API_KEY')\n" + app.read_text())
    proc = project.invoke("deploy")
    assert proc.returncode == 5, proc.stderr
    assert "CREATE_FAILED" in proc.stderr
    assert "missing MODEL_API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_failing_health_check_fails_the_task(project):
    app = project.root / "code" / "app.py"
    source = app.read_text().replace('os.environ.get("AGENT_FAULT_RATE", "0")', '"1"')
    app.write_text(source)
    env_file = project.root / "envs" / "local.yaml"
    env_file.write_text(env_file.read_text().replace("timeout: 60s", "timeout: 3s"))
    proc = project.invoke("deploy")
    assert proc.returncode == 4, proc.stderr + proc.stdout
    assert "health check" in proc.stderr
    assert "500" in proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--target-version", "1", "--canary-version", "2", "--weight", "1.5"], "outside [0, 1]"),
    (["--target-version", "1", "--canary-version", "2"], "needs --weight"),
    (["--target-version", "2", "--weight", "0.1"], "needs --canary-version"),
    (["--target-version", "7"], "version 7 does not exist"),
], ids=["weight-1.5", "canary-without-weight", "the-guides-form", "unknown-version"])
def test_bad_endpoint_publish_exits_2_and_changes_nothing(project, args, message):
    deployed = project.invoke_json("deploy")
    proc = project.invoke("endpoint.publish", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    after = project.invoke_json("endpoint.get")
    assert after["targetVersion"] == deployed["endpoint"]["targetVersion"]
    assert after["weights"] == {}


def test_versions_and_a_canary_split_round_trip_through_the_tasks(project):
    project.invoke_json("deploy")
    assert project.invoke_json("version.publish", "--description", "first")["version"] == "1"
    project.set_greeting("Second")
    project.invoke_json("deploy")
    assert project.invoke_json("version.publish")["version"] == "2"
    endpoint = project.invoke_json("endpoint.publish", "--target-version", "1", "--canary-version", "2",
                                   "--weight", "20%")
    assert endpoint["traffic"] == {"1": 0.8, "2": 0.2}
    assert [v["version"] for v in project.invoke_json("version.list")] == ["1", "2"]
    info = project.invoke_json("info")
    assert {e["name"] for e in info["endpoints"]} >= {"prod"}


def test_a_package_above_the_inline_limit_goes_through_oss(project):
    env_file = project.root / "envs" / "local.yaml"
    env_file.write_text(env_file.read_text() + "\ninline_zip_limit: 1KB\n")
    first = project.invoke_json("deploy")
    assert first["action"] == "created"
    assert f"code/agentrun-tasks-example/{first['artifact']['sha256']}.zip" in emulator_oss(project.root).list("code/")
    status, _, _ = chat(first["url"])
    assert status == 200
    assert project.invoke_json("deploy")["action"] == "unchanged"


def _sdk_config(root, key_id=None, secret=None):
    from alibabacloud_tea_openapi.models import Config

    boot_id, boot_secret, _ = read_credentials(root)
    return Config(access_key_id=key_id or boot_id, access_key_secret=secret or boot_secret.reveal(),
                  endpoint=f"127.0.0.1:{lifecycle.status(root)['port']}", protocol="http", region_id="cn-hangzhou")


def _set_faults(root, **rates):
    import json
    import urllib.request

    request = urllib.request.Request(f"{lifecycle.status(root)['url']}/_emulator/faults", method="POST",
                                     data=json.dumps(rates).encode(),
                                     headers={"content-type": "application/json", **admin.plain(admin.headers(root))})
    urllib.request.urlopen(request, timeout=5).close()


def test_throttling_is_retried_and_the_deploy_succeeds(project):
    env_file = project.root / "envs" / "local.yaml"
    env_file.write_text(env_file.read_text() + "\nretry: {attempts: 80, initial: 0.05, maximum: 0.2, total: 120s}\n")
    project.invoke_json("deploy")
    # A changed deploy makes about five control-plane calls: at 0.8 each is throttled, so the chance
    # that none is (the test then proves nothing) is 0.2^5 = 0.03%, at 0.6 it was 1% (seen once);
    # 80 attempts make running out of them (0.8^80) as unlikely.
    _set_faults(project.root, throttle=0.8)
    project.set_greeting("Deployed through throttling")
    proc = project.invoke("deploy")
    assert proc.returncode == 0, proc.stderr
    assert "warning: retrying in" in proc.stderr
    assert "throttled" in proc.stderr


def test_a_deactivated_key_fails_at_once_with_exit_3_and_no_retries(project):
    from alibabacloud_ram20150501 import models as ram_models
    from alibabacloud_ram20150501.client import Client as RamClient

    project.invoke_json("deploy")
    boot_id, _, _ = read_credentials(project.root)
    ram = RamClient(_sdk_config(project.root))
    spare = ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="local-deployer")).body.access_key
    RamClient(_sdk_config(project.root, spare.access_key_id, spare.access_key_secret)).update_access_key(
        ram_models.UpdateAccessKeyRequest(user_access_key_id=boot_id, status="Inactive", user_name="local-deployer"))
    proc = project.invoke("deploy")
    assert proc.returncode == 3, proc.stderr
    # The first call is the environment's lock in the state store (OSS), or the control plane.
    assert "retrying" not in proc.stderr
    assert "rejected the credentials" in proc.stderr or "Check the AccessKey" in proc.stderr, proc.stderr
    check = project.invoke("credentials.check")
    assert check.returncode == 3
    assert "Inactive" in check.stderr
    assert spare.access_key_secret not in proc.stderr + proc.stdout + check.stderr + check.stdout


def test_a_killed_deploy_is_busy_while_the_platform_works_and_a_rerun_with_wait_converges(project):
    import os
    import signal

    hold = project.hold_agent_start()
    with project.background("deploy") as child:
        project.wait_for_state('"CREATING"')
        os.killpg(child.pid, signal.SIGKILL)
    busy = project.invoke("deploy")
    assert busy.returncode == 7, busy.stderr
    assert "another deploy is running" in busy.stderr
    assert "--wait" in busy.stderr
    hold.unlink()
    converged = project.invoke_json("deploy", "--wait")
    assert converged["action"] == "unchanged"
    assert converged["runtime"]["status"] == "READY"
    assert chat(converged["url"])[0] == 200


def test_a_confirmation_question_quotes_user_input_verbatim(project):
    proc = project.invoke("endpoint.remove", "--name", "{x}")
    assert proc.returncode == 2, proc.stderr
    assert "Delete endpoint '{x}'" in proc.stderr
    assert "--yes" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_deploy_warns_when_the_credentials_file_is_readable_by_others(project):
    project.invoke_json("deploy")
    (project.root / ".env.local").chmod(0o644)
    proc = project.invoke("deploy")
    assert proc.returncode == 0
    assert "chmod 600" in proc.stderr
