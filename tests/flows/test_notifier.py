"""The Notifier: each event to the channels that want it, off the critical path, failures as
warnings, exit 5 only for a required channel of a task that itself succeeded."""

from __future__ import annotations

import io
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from agentrun_tasks.adapters.channels import open_channel
from agentrun_tasks.adapters.keyring_store import KeyStore
from agentrun_tasks.core.credentials import KEYRING_SERVICE
from agentrun_tasks.core.errors import ConfigError, ResourceFailedError
from agentrun_tasks.core.model import NotifyConfig
from agentrun_tasks.core.notify import ChannelConfig, Event, KeyringRef
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.flows.notify import Notifier, open_notifier
from agentrun_tasks.testing.keyring import MemoryKeyring
from agentrun_tasks.testing.receivers import robot

FAILED = Event("deploy.failed", "prod", "demo", reason="health check failed")
SUCCEEDED = Event("deploy.succeeded", "prod", "demo", version="2")


def notifier(*robots, timeout: float = 5.0, **cfg) -> tuple[Notifier, io.StringIO]:
    err = io.StringIO()
    channels = []
    for r in robots:
        config = ChannelConfig(r.kind, f"{r.kind}-{r.token[:4]}", Secret(r.url), **cfg)
        channels.append((config, open_channel(r.kind, config.name, Secret(r.url))))
    return Notifier(channels, Reporter(out=io.StringIO(), err=err, interactive=False), timeout=timeout), err


def test_each_channel_gets_only_the_events_it_wants_in_order():
    with robot("webhook") as everything, robot("wecom") as failures:
        n, _ = notifier(everything)
        n.channels += notifier(failures, on=("failure",))[0].channels
        n.send(Event("deploy.started", "prod"))  # progress: not in the default on: [success, failure]
        n.send(FAILED)
        n.send(SUCCEEDED)
        assert all(r.ok for r in n.finish())
    assert [m["event"] for m in everything.messages] == ["deploy.failed", "deploy.succeeded"]
    assert len(failures.messages) == 1
    assert "failed" in failures.messages[0]["markdown"]["content"]


def test_a_receiver_failing_twice_then_succeeding_gets_exactly_one_message():
    with robot("dingtalk") as r:
        r.fail_next(2, "500")
        n, err = notifier(r)
        n.send(FAILED)
        (result,) = n.finish()
    assert result.ok
    assert result.attempts == 3
    assert len(r.messages) == 1
    assert err.getvalue() == ""


def test_an_always_failing_channel_is_a_warning_unless_required():
    with robot("feishu") as r:
        r.always = True
        n, err = notifier(r, timeout=1.0)
        n.send(SUCCEEDED)
        (result,) = n.finish()
        assert not result.ok
        assert "warning: notification 'deploy.succeeded' to feishu channel" in err.getvalue()
        required, _ = notifier(r, timeout=1.0, required=True)
        required.send(SUCCEEDED)
        with pytest.raises(ResourceFailedError, match="required notification channel") as info:
            required.finish()
        assert info.value.exit_code == 5
        required.send(FAILED)
        assert not required.finish(error=RuntimeError("the deploy's own error wins"))[0].ok


def test_finishing_passes_the_tasks_own_error_on():
    with robot("slack") as r:
        r.always = True
        n, _ = notifier(r, timeout=0.5, required=True)
        with pytest.raises(ValueError, match="gate failed"), n.finishing():  # noqa: PT012 - the error leaves the block
            n.send(FAILED)
            raise ValueError("gate failed")

# How long the test robots hold an answer: far beyond any wait the notifier may do, so a bound
# against it separates "waited for the robot" from "did not" on any machine, however loaded.
HOLD = 60.0


def test_sending_does_not_wait_and_finishing_waits_at_most_the_timeout():
    with robot("slack") as r:
        r.delay = HOLD
        n, _err = notifier(r, timeout=1.0)
        started = time.monotonic()
        n.send(SUCCEEDED)
        # Bounds against the robot's hold, not a speed: a send or finish that waited for the robot
        # would take all of HOLD (how fast they are is benchmarks/notify_bench.py's question).
        assert time.monotonic() - started < HOLD / 2  # the task goes on at once
        (result,) = n.finish()
        assert time.monotonic() - started < HOLD / 2
        assert not result.ok
        assert "timed out" in result.detail or "not delivered within 1s" in result.detail


def test_no_channels_is_a_silent_no_op():
    n = Notifier([], Reporter(out=io.StringIO(), err=io.StringIO()))
    n.send(FAILED)
    assert not n
    assert n.finish() == []


def keyring_env():
    channel = ChannelConfig("webhook", "hook", KeyringRef("notify/hook"), secret=KeyringRef("notify/sign"))
    return SimpleNamespace(path=Path("envs/prod.yaml"), notify=NotifyConfig(channels=(channel,), timeout=2.0))


def test_values_kept_in_the_keyring_are_read_through_the_keystore():
    backend = MemoryKeyring()
    backend.set_password(KEYRING_SERVICE, "notify/hook", "http://127.0.0.1:9/hooks/kr0123456789abcdef0123")
    backend.set_password(KEYRING_SERVICE, "notify/sign", "SECkeyring0123456789")
    reporter = Reporter(out=io.StringIO(), err=io.StringIO())
    (_cfg, channel), = open_notifier(keyring_env(), reporter, KeyStore(backend).read).channels
    assert channel.webhook.reveal().endswith("/hooks/kr0123456789abcdef0123")
    assert channel.secret.reveal().startswith("SEC")
    with pytest.raises(ConfigError, match=r"no entry agentrun-tasks/notify/hook\. Store it with `keyring set"):
        open_notifier(keyring_env(), reporter, KeyStore(MemoryKeyring()).read)
    backend.set_password(KEYRING_SERVICE, "notify/hook", "not a url")
    with pytest.raises(ConfigError, match="is not an http\\(s\\) URL") as info:
        open_notifier(keyring_env(), reporter, KeyStore(backend).read)
    assert "not a url" not in str(info.value)


def test_an_interrupted_task_still_says_so_but_waits_only_briefly():
    with robot("webhook") as r:
        r.delay = HOLD
        n, _ = notifier(r, timeout=HOLD / 2)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt), n.finishing(
                failed=lambda error: Event("release.aborted", "prod", reason=f"aborted by {error}")):
            raise KeyboardInterrupt("SIGTERM")
        # The message left and nobody waited out the notify timeout (HOLD / 2), let alone the robot.
        assert time.monotonic() - started < HOLD / 4
        assert r.requests == 1
