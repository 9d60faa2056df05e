"""Notifications from real invoke processes against the emulator, to local receivers that check
each platform's protocol: a faulty release sends one "rolled back" message naming the gate, a
dead channel never fails a deploy unless it is required (then exit 5, after the deploy), and
the webhook URL and secret never appear in any output or file."""

from __future__ import annotations

import json
import secrets as pysecrets
from pathlib import Path

from agentrun_tasks.testing.project import clean_environ
from agentrun_tasks.testing.receivers import robot


def add_channels(project, *channels: str) -> None:
    env_file = project.root / "envs" / "local.yaml"
    env_file.write_text(env_file.read_text() + "notify:\n  timeout: 3s\n  channels:\n"
                        + "".join(f"    - {c}\n" for c in channels))


def hook(name: str, secret: str | None = None, **extra) -> str:
    fields = {"webhook": f"\"${{env('{name}_URL')}}\"", **extra}
    if secret:
        fields["secret"] = f"\"${{env('{name}_SECRET')}}\""
    return "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"


def test_a_faulty_release_sends_one_rolled_back_message_naming_the_gate(project):
    with robot("dingtalk", secret="SECding0123456789abcdef") as ding, robot("webhook") as everything:
        add_channels(project, hook("DING", secret="yes", type="dingtalk", on="[rollback]"),
                     hook("HOOK", type="webhook", on="[all]"))
        environ = clean_environ(DING_URL=ding.url, DING_SECRET=ding.secret, HOOK_URL=everything.url)
        project.configure_release(interval="4s")
        assert project.invoke("release", env=environ).returncode == 0
        project.configure_release(agent_env={"AGENT_FAULT_RATE": "0.5"})
        proc = project.invoke("release", env=environ)
        assert proc.returncode == 4, proc.stderr + proc.stdout
        assert "warning: notification" not in proc.stderr
    assert len(ding.messages) == 1
    assert ding.rejected == []
    text = ding.messages[0]["markdown"]["text"]
    assert "rolled back: error rate" in text
    assert "max_error_rate" in text
    assert "version 2" in text
    kinds = [m["event"] for m in everything.messages]
    assert kinds.count("release.rolled-back") == 1
    assert kinds[-1] == "release.rolled-back"
    assert "release.promoted" in kinds  # the first release
    assert everything.messages[-1]["gate"]["gate"] == "max_error_rate"


def test_a_dead_channel_warns_and_a_required_one_exits_5_after_the_deploy(project):
    with robot("slack") as dead:
        dead.always = True
        add_channels(project, hook("SLACK", type="slack"))
        environ = clean_environ(SLACK_URL=dead.url)
        proc = project.invoke("deploy", env=environ)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert "warning: notification 'deploy.succeeded' to slack channel 'slack' failed" in proc.stderr
        env_file = project.root / "envs" / "local.yaml"
        env_file.write_text(env_file.read_text().replace("type: slack", "type: slack, required: true"))
        proc = project.invoke("deploy", env=environ)
        assert proc.returncode == 5, proc.stderr + proc.stdout
        assert "endpoint" in proc.stdout
        assert "required notification channel(s) slack" in proc.stderr
        assert dead.messages == []


def test_notify_test_and_status(project):
    with robot("wecom") as wecom, robot("feishu", secret="SECfeishu0123456789") as feishu:
        add_channels(project, hook("WECOM", type="wecom", on="[failure]"),
                     hook("FEISHU", secret="yes", type="feishu", style="post"))
        environ = clean_environ(WECOM_URL=wecom.url, FEISHU_URL=feishu.url, FEISHU_SECRET=feishu.secret)
        proc = project.invoke("notify", "--test", "--json", env=environ)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert sorted((s["channel"], s["ok"]) for s in json.loads(proc.stdout)["sent"]) == [("feishu", True), ("wecom", True)]
        proc = project.invoke("notify", "--status", "failure", "--message", "smoke tests failed", env=environ)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert len(wecom.messages) == 2
        assert "smoke tests failed" in wecom.messages[1]["markdown"]["content"]
        assert len(feishu.messages) == 2  # the default on: [success, failure] takes a pipeline failure too
    usage = project.invoke("notify", "--status", "maybe", env=environ)
    assert usage.returncode == 2
    assert "success, failure" in usage.stderr


def test_the_webhook_url_and_secret_never_appear_in_output_or_files(project, tmp_path):
    token = "SNTLTOKEN" + pysecrets.token_hex(12)
    secret = "SNTLSECRET" + pysecrets.token_hex(12)
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    with robot("dingtalk", secret=secret, token=token) as ding, robot("webhook", secret=secret) as dead:
        dead.always = True
        add_channels(project, hook("DING", secret="yes", type="dingtalk", on="[all]"),
                     hook("DEAD", secret="yes", type="webhook", on="[all]"))
        environ = clean_environ(DING_URL=ding.url, DING_SECRET=secret, DEAD_URL=dead.url, DEAD_SECRET=secret,
                                GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(outputs),
                                GITHUB_REF_NAME="main", GITHUB_SHA="0" * 40)
        runs = [project.invoke(*args, env=environ) for args in
                (("deploy", "--env", "local"), ("notify", "--env", "local", "--test"),
                 ("notify", "--env", "local", "--status", "success", "--message", f"see {dead.url}"))]
        assert len(ding.messages) >= 3
        assert summary.read_text().count("### ") >= 1
    assert [r.returncode for r in runs] == [0, 5, 0], [r.stderr for r in runs]
    dead_token = dead.url.rsplit("/", 1)[1]
    for value in (token, secret, dead_token, ding.url, dead.url):
        for run in runs:
            for line in (run.stdout + run.stderr).splitlines():
                assert value not in line or line.startswith("::add-mask::"), line
        for path in [summary, outputs, *Path(project.root).rglob("*")]:
            if path.is_file() and path.suffix not in (".zip", ".pyc"):
                assert value not in path.read_text(errors="replace"), path


def test_a_typo_in_a_channel_is_exit_2_with_a_hint_and_no_traceback(project):
    add_channels(project, "{tpye: dingtalk}")
    proc = project.invoke("notify", "--test")
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert "envs/local.yaml, line" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "notify.channels[0].tpye: unknown key 'tpye'. Did you mean 'type'?" in proc.stderr


def test_without_channels_a_status_sends_nothing_and_a_test_is_exit_2(project):
    proc = project.invoke("notify", "--status", "success", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"sent": []}, proc.stderr
    proc = project.invoke("notify", "--test")
    assert proc.returncode == 2
    assert "names no notification channels" in proc.stderr
