"""The notify: block of an env file (validated in full, secrets only through ${env()} or the
keyring), which channel wants which event, and each platform's message markup."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import BusyError, ConfigError, GateFailed, ResourceFailedError
from agentrun_tasks.core.notify import (
    AnalysisRow,
    ChannelConfig,
    Event,
    Gate,
    KeyringRef,
    Mention,
    analysis_rows,
    by_hand_event,
    expand,
    release_event,
    step_event,
)
from agentrun_tasks.core.notify_render import render, summary_markdown, title
from agentrun_tasks.core.secrets import Secret, redact

HEAD = "region: cn-hangzhou\nagent:\n  name: demo\n  code: {src: code, language: python3.12, command: [python3, app.py]}\n"
URL = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef"
ENVIRON = {"HOOK": URL, "SIGN": "SEC0123456789abcdef", "PLAIN": "not a url at all"}


def load(tmp_path: Path, notify: str):
    (tmp_path / "envs").mkdir(exist_ok=True)
    (tmp_path / "envs" / "dev.yaml").write_text(HEAD + "notify:\n" + notify)
    return load_env("dev", root=tmp_path, environ=ENVIRON)


def test_a_full_channel_is_typed_and_its_secrets_are_secret(tmp_path):
    cfg = load(tmp_path, "  timeout: 3s\n  channels:\n"
                         "    - type: dingtalk\n      webhook: \"${env('HOOK')}\"\n      secret: \"${env('SIGN')}\"\n"
                         "      on: [failure, rollback]\n      mention: {mobiles: ['13800000000'], user_ids: [u1]}\n"
                         "      keyword: deploy\n      required: true\n"
                         "    - {type: webhook, webhook: {keyring: notify/hook}}\n"
                         "    - {type: webhook, webhook: \"${env('HOOK')}\"}\n").notify
    assert cfg.timeout == 3.0
    ding, keyring, second = cfg.channels
    assert isinstance(ding.webhook, Secret)
    assert ding.webhook.reveal() == URL
    assert ding.secret.reveal() == ENVIRON["SIGN"]
    assert (ding.name, ding.on, ding.required, ding.keyword) == ("dingtalk", ("failure", "rollback"), True, "deploy")
    assert ding.mention == Mention(("13800000000",), ("u1",), False)
    assert keyring.webhook == KeyringRef("notify/hook")
    assert (keyring.name, second.name) == ("webhook", "webhook-2")
    assert URL not in repr(cfg)
    assert "0123456789abcdef" not in redact(f"{cfg} {URL}")


@pytest.mark.parametrize(("notify", "error"), [
    ("  channels: [{tpye: dingtalk}]\n", r"line 6: notify.channels\[0\].tpye: unknown key 'tpye'. Did you mean 'type'\?"),
    ("  channels: [{type: dingtalk}]\n", r"missing required key 'webhook'"),
    ("  channels: [{type: dingtalks, webhook: \"${env('HOOK')}\"}]\n", r"'dingtalks' is not one of.*Did you mean 'dingtalk'"),
    ("  channels: [{type: slack, webhook: \"https://hooks.slack.com/services/T/B/X\"}]\n",
     r"webhook: a webhook URL is a secret and must not be written in the file. Write it as \"\$\{env\('NAME'\)\}\""),
    ("  channels: [{type: slack, webhook: \"${env('HOOK', 'https://x/y')}\"}]\n", r"is a secret and must not be written"),
    ("  channels: [{type: slack, webhook: \"${env('PLAIN')}\"}]\n", r"the value of \$\{env\('PLAIN'\)\} is not an http\(s\) URL"),
    ("  channels: [{type: slack, webhook: \"${env('HOOK')}\", keyword: x}]\n", r"keyword: is not a setting of a slack channel"),
    ("  channels: [{type: slack, webhook: \"${env('HOOK')}\", mention: {mobiles: ['13800000000']}}]\n",
     r"a slack channel cannot mention by mobiles"),
    ("  channels: [{type: wecom, webhook: \"${env('HOOK')}\", on: [rollbak]}]\n", r"'rollbak' is not one of.*Did you mean 'rollback'"),
    ("  channels: [{type: wecom, webhook: \"${env('HOOK')}\", requird: true}]\n", r"Did you mean 'required'"),
    ("  timout: 5s\n", r"notify.timout: unknown key 'timout'. Did you mean 'timeout'"),
    ("  channels: [{type: wecom, webhook: \"${env('HOOK')}\", name: a}, {type: slack, webhook: \"${env('HOOK')}\", name: a}]\n",
     r"two channels are named 'a'"),
], ids=["typo-type-key", "no-webhook", "typo-type", "literal-url", "default-in-file", "not-a-url", "keyword-on-slack",
        "slack-mobiles", "typo-on", "typo-required", "typo-timeout", "duplicate-name"])
def test_bad_notify_blocks_are_one_paragraph_with_a_hint(tmp_path, notify, error):
    with pytest.raises(ConfigError, match=error) as info:
        load(tmp_path, notify)
    assert URL not in str(info.value)
    assert "0123456789abcdef" not in str(info.value)


def test_on_groups_expand_and_a_test_message_goes_everywhere():
    assert expand(["rollback"]) == {"release.rolled-back"}
    assert expand(["failure"]) >= {"deploy.failed", "release.rolled-back", "release.aborted", "rotation.failed"}
    assert "deploy.started" in expand(["all"])
    assert "deploy.started" not in expand(["success", "failure"])
    channel = ChannelConfig("slack", "s", Secret("https://h/x"), on=("rollback",))
    assert channel.wants("release.rolled-back")
    assert channel.wants("test")
    assert not channel.wants("deploy.succeeded")


TABLE = [{"metric": "requests", "candidate": 5, "stable": 5, "threshold": 5, "verdict": "pass", "detail": "",
          "gate": "min_requests", "unit": "count"},
         {"metric": "error rate", "candidate": 0.4, "stable": 0.0, "threshold": 0.05, "verdict": "fail",
          "detail": "2/5 failed", "gate": "max_error_rate", "unit": "ratio"}]


def rolled_back(**extra) -> Event:
    rows, gate = analysis_rows(TABLE)
    return Event("release.rolled-back", "prod", "demo", version="2", from_version="1", commit="abcdef0123456789",
                 actor="alice", run_url="https://ci.example/run/7", endpoint_url="https://ep.example/prod",
                 reason="canary of version 2 failed at 5%", weight=0.05, gate=gate, analysis=rows, **extra)


def test_the_failing_gate_is_named_with_value_and_threshold():
    rows, gate = analysis_rows(TABLE)
    assert gate == Gate("error rate", "40.0%", "<= 5.0%", "max_error_rate")
    assert rows[1] == AnalysisRow("error rate", "40.0%", "0.0%", "<= 5.0%", "fail", "2/5 failed")
    assert title(rolled_back()) == "Release of version 2 to prod rolled back: error rate 40.0% (threshold <= 5.0%)"


def channel(kind: str, **extra) -> ChannelConfig:
    return ChannelConfig(kind, kind, Secret("https://h.example/x"), **extra)


def test_slack_has_blocks_and_a_text_fallback_with_mentions():
    body = render(rolled_back(), channel("slack", mention=Mention(user_ids=("U1",), all=True)))
    assert body["text"].startswith("❌ Release of version 2 to prod rolled back")
    assert "<@U1> <!channel>" in body["text"]
    types = [b["type"] for b in body["blocks"]]
    assert types == ["header", "section", "section", "section", "context"]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in body["blocks"][2]["fields"]}
    assert fields["*Version*"] == "1 → 2"
    assert fields["*CI run*"] == "<https://ci.example/run/7|open>"
    assert "error rate" in body["blocks"][3]["text"]["text"]
    assert body["blocks"][3]["text"]["text"].startswith("```")


def test_dingtalk_markdown_mentions_through_at_and_the_text_and_carries_the_keyword():
    cfg = channel("dingtalk", keyword="deploy", mention=Mention(mobiles=("13800000000",), user_ids=("u1",)))
    body = render(rolled_back(), cfg)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"].startswith("[deploy] ❌")
    assert body["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["u1"], "isAtAll": False}
    assert "@13800000000 @u1" in body["markdown"]["text"]
    assert "[open](https://ci.example/run/7)" in body["markdown"]["text"]
    success = render(Event("deploy.succeeded", "prod", "demo"), cfg)
    assert success["at"]["atMobiles"] == []
    assert "@" not in success["markdown"]["text"]


def test_feishu_card_and_post():
    card = render(rolled_back(), channel("feishu", mention=Mention(user_ids=("ou_1",))))
    assert card["msg_type"] == "interactive"
    assert card["card"]["header"]["template"] == "red"
    assert card["card"]["elements"][-1]["text"]["content"] == "<at id=ou_1></at>"
    post = render(rolled_back(), channel("feishu", style="post"))
    content = post["content"]["post"]["zh_cn"]["content"]
    assert post["msg_type"] == "post"
    assert all(isinstance(row, list) for row in content)
    assert {"tag": "a", "text": "open", "href": "https://ci.example/run/7"} in [part for row in content for part in row]


def test_wecom_markdown_is_cut_to_4096_bytes():
    rows = tuple(AnalysisRow(f"metric {i}", "中" * 40, "-", "-", "fail") for i in range(200))
    body = render(Event("release.aborted", "prod", analysis=rows), channel("wecom", mention=Mention(user_ids=("zhang",))))
    assert body["msgtype"] == "markdown"
    assert len(body["markdown"]["content"].encode()) <= 4096
    assert render(rolled_back(), channel("wecom", mention=Mention(user_ids=("zhang",))))["markdown"]["content"].endswith("<@zhang>")


def test_webhook_json_and_ci_summary():
    body = render(rolled_back(), channel("webhook"))
    assert body["schema"] == "agentrun-tasks.notify/v1"
    assert body["event"] == "release.rolled-back"
    assert body["status"] == "failure"
    assert body["gate"]["gate"] == "max_error_rate"
    assert len(body["analysis"]) == 2
    json.dumps(body)
    summary = summary_markdown(rolled_back())
    assert summary.startswith("### ❌ Release of version 2 to prod rolled back")
    assert "| Commit | abcdef01 |" in summary
    assert "| error rate | 40.0% | 0.0% | <= 5.0% | fail | 2/5 failed |" in summary


ENV = SimpleNamespace(name="prod", agent_name="demo")
CI = SimpleNamespace(sha="abcdef0123456789", actor="alice", run_url="https://ci.example/run/7")


def test_the_end_of_a_release_is_one_event():
    report = SimpleNamespace(to_dict=lambda: {"candidate": "2", "stable": "1", "result": "rolled-back",
                                              "steps": [{"weight": 0.05, "table": TABLE}]})
    event = release_event(ENV, CI, error=GateFailed("canary of version 2 failed at 5%", report=report))
    assert (event.kind, event.version, event.from_version, event.weight) == ("release.rolled-back", "2", "1", 0.05)
    assert event.gate.gate == "max_error_rate"
    assert event.commit == CI.sha
    assert event.reason.startswith("canary")
    aborted = release_event(ENV, CI, error=ResourceFailedError("the platform said FAILED"))
    assert aborted.kind == "release.aborted"
    assert aborted.gate is None
    assert release_event(ENV, CI, error=ConfigError("bad flag")) is None
    assert release_event(ENV, CI, error=BusyError("locked")) is None
    promoted = release_event(ENV, CI, {"candidate": "2", "stable": "1", "result": "promoted", "steps": []})
    assert promoted.kind == "release.promoted"
    assert title(promoted) == "Version 2 of demo promoted to 100% in prod"
    step = step_event(ENV, CI, "2", "1", {"weight": 0.25, "table": TABLE[:1]})
    assert title(step) == "Release of version 2 to prod: step 25% passed"
    assert step.analysis[0].metric == "requests"


def test_rollback_and_promote_by_hand_are_events_unless_nothing_changed():
    rolled = by_hand_event(ENV, CI, "rollback", {"from": "1", "canary": {"2": 0.25}, "to": "1",
                                                 "result": "rolled-back", "url": "https://ep.example/prod"})
    assert (rolled.kind, rolled.version, rolled.endpoint_url) == ("release.rolled-back", "2", "https://ep.example/prod")
    assert rolled.reason == "rolled back by hand: version 1 serves 100%"
    assert rolled.gate is None
    assert by_hand_event(ENV, CI, "rollback", {"from": "1", "to": "1", "result": "already-rolled-back"}) is None
    promoted = by_hand_event(ENV, CI, "promote", {"from": "1", "to": "2"})
    assert (promoted.kind, promoted.version, promoted.from_version) == ("release.promoted", "2", "1")


def test_a_failed_event_says_which_signal_stopped_the_task():
    from agentrun_tasks.core.errors import Interrupted
    from agentrun_tasks.core.notify import failure_reason

    assert failure_reason(KeyboardInterrupt()) == "aborted by SIGINT"  # a bare Ctrl-C has no text
    assert failure_reason(Interrupted(15, "SIGTERM")) == "aborted by SIGTERM"
    assert failure_reason(ValueError("the sink token was refused")) == "the sink token was refused"
