"""release.webhooks in a real canary on the emulator, called over HTTP on a local receiver that
checks the webhook channel's signature: confirm hooks gate the rollout and the promotion, a
pre-rollout hook is told the checks' rows, a failing notice is only a warning."""

# ruff: noqa: F811 (the emulator's driver and runtime fixtures are the checks tests', imported by name)
from __future__ import annotations

import io

import pytest
from test_release_checks import ENDPOINT, Recording, driver, env_with, prompt, runtime  # noqa: F401

from agentrun_tasks.core import webhooks
from agentrun_tasks.core.errors import WaitTimeoutError
from agentrun_tasks.core.notify import webhook_url
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.flows.release.canary import Canary, state_of
from agentrun_tasks.flows.release.checks import Acceptance
from agentrun_tasks.flows.release.webhooks import Hooks
from agentrun_tasks.testing.receivers import robot

SECRET = "hook-signing-secret-0123456789"


def hooks_for(env, receiver, *types: str, timeout: float = 30.0, out=None) -> Hooks:
    hooks = tuple(webhooks.Webhook(kind, kind, webhook_url(receiver.url, "test"), Secret(SECRET), timeout, 0.01)
                  for kind in types)
    return Hooks(hooks, env=env, reporter=Reporter(out=out or io.StringIO(), err=out or io.StringIO()))


def canary_with(driver, runtime, candidate: str, hooks: Hooks, *checks, out=None):
    env = hooks.env
    out = out or io.StringIO()
    reporter = Reporter(out=out, err=out)
    acceptance = Acceptance(checks, env=env, root=None, reporter=reporter, environ={}) if checks else None
    recording = Recording(driver)
    return Canary(recording, runtime, env, reporter, candidate=candidate, acceptance=acceptance,
                  hooks=hooks), recording


def test_confirm_hooks_are_asked_until_they_answer_and_the_pre_rollout_hook_gets_the_checks(driver, runtime):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    check = prompt("greets", "hello", contains=["Hello from 3"])
    env = env_with(check)
    with robot("webhook", secret=SECRET) as receiver:
        receiver.fail_next(2, "500")  # the approver says "not yet" twice
        hooks = hooks_for(env, receiver, "confirm-rollout", "confirm-promotion", "pre-rollout")
        canary, _recording = canary_with(driver, runtime, "3", hooks, check)
        assert canary.run().result == "promoted"
    assert receiver.rejected == []  # every body carried the right X-Signature
    assert [m["type"] for m in receiver.messages] == ["confirm-rollout", "pre-rollout", "confirm-promotion"]
    assert receiver.requests == 5
    notice = receiver.messages[1]
    assert notice["schema"] == webhooks.SCHEMA
    assert notice["candidate"] == "3"
    assert notice["stable"] == "1"
    assert notice["result"] == "pass"
    assert notice["steps"][0]["table"][0]["metric"] == "check greets"
    assert receiver.messages[2]["weight"] == 1.0


def test_an_unconfirmed_rollout_moves_no_traffic_and_is_exit_6(driver, runtime):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    with robot("webhook", secret=SECRET) as receiver:
        receiver.always = True  # 503, every time
        hooks = hooks_for(env_with(), receiver, "confirm-rollout", timeout=0.3)
        canary, recording = canary_with(driver, runtime, "3", hooks)
        with pytest.raises(WaitTimeoutError, match=r"the confirm-rollout webhook 'confirm-rollout' did not answer "
                                                    r"2xx within 0.3s .*last: HTTP 503 unavailable") as timed_out:
            canary.run()
    assert timed_out.value.exit_code == 6
    assert receiver.requests >= 2
    assert recording.writes == []
    assert receiver.url not in str(timed_out.value)


def test_an_unconfirmed_promotion_sends_100_percent_back_to_stable(driver, runtime):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    with robot("webhook", secret=SECRET) as receiver:
        receiver.always = True
        hooks = hooks_for(env_with(), receiver, "confirm-promotion", timeout=0.3)
        canary, recording = canary_with(driver, runtime, "3", hooks)
        with pytest.raises(WaitTimeoutError, match="Version 3 was not promoted; version 1 serves 100%"):
            canary.run()
    assert [w["weights"] for w in recording.writes] == [{"3": 0.5}, {}]  # the 50% step, then back
    live = state_of(driver.find_endpoint(runtime.id, ENDPOINT))
    assert (live.target_version, live.split()) == ("1", {})


def test_a_failing_pre_rollout_notice_is_a_warning_and_the_release_goes_on(driver, runtime):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    out = io.StringIO()
    with robot("webhook", secret="another-secret-entirely") as receiver:  # refuses our signature: 401
        hooks = hooks_for(env_with(), receiver, "pre-rollout", out=out)
        canary, _recording = canary_with(driver, runtime, "3", hooks, out=out)
        assert canary.run().result == "promoted"
    assert receiver.rejected == [("sign", "")]
    assert "pre-rollout webhook 'pre-rollout' failed: HTTP 401 bad signature; the release goes on" in out.getvalue()


def test_blue_green_asks_its_confirm_hooks_and_an_unconfirmed_switch_leaves_production_alone(driver, runtime):
    from agentrun_tasks.flows.release.bluegreen import blue_green

    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    env = env_with()
    with robot("webhook", secret=SECRET) as receiver:
        hooks = hooks_for(env, receiver, "confirm-rollout", "confirm-promotion", timeout=0.5)
        receiver.fail_next(1, "500")  # confirm-rollout: no, then yes; confirm-promotion: yes
        result = blue_green(Recording(driver), runtime, env, hooks.reporter, candidate="3", force=False,
                            health_check=lambda url: None, hooks=hooks)
        assert result.result == "switched"
        assert result.stable == "1"
        assert [m["type"] for m in receiver.messages] == ["confirm-rollout", "confirm-promotion"]
        receiver.always = True
        recording = Recording(driver)
        with pytest.raises(WaitTimeoutError, match="confirm-promotion"):
            blue_green(recording, runtime, env, hooks.reporter, candidate="2", force=True,
                       health_check=lambda url: None, hooks=hooks_for(env, receiver, "confirm-promotion",
                                                                       timeout=0.3))
    assert recording.writes == []  # production never switched to version 2
    assert state_of(driver.find_endpoint(runtime.id, ENDPOINT)).target_version == "3"
