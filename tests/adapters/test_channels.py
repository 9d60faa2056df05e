"""Each channel against a local receiver that speaks its platform's protocol: payload shape,
signatures recomputed from the shared secret (a wrong one is refused with the platform's body
error), retries of transient failures only, Retry-After, the rate limiter and the deadline."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import aiohttp
import pytest

from agentrun_tasks.adapters.channels import open_channel
from agentrun_tasks.adapters.channels.delivery import RateLimiter, retry_after
from agentrun_tasks.core.notify import ChannelConfig, Event, Mention
from agentrun_tasks.core.notify_render import render
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.testing.receivers import robot

SIGNED = ("dingtalk", "feishu", "webhook")
EVENT = Event("deploy.failed", "prod", "demo", version="3", commit="abc123", actor="ci", reason="health check failed")


def deliver(kind: str, url: str, *, secret: str | None = None, timeout: float = 5.0, **cfg):
    config = ChannelConfig(kind, kind, Secret(url), **cfg)
    channel = open_channel(kind, kind, Secret(url), Secret(secret) if secret else None)

    async def go():
        async with aiohttp.ClientSession() as session:
            return await channel.send(render(EVENT, config), session=session, deadline=time.monotonic() + timeout)

    return asyncio.run(go())


@pytest.mark.parametrize("kind", ["slack", "dingtalk", "feishu", "wecom", "webhook"])
def test_each_platform_accepts_the_message_it_documents(kind):
    secret = "SECa1b2c3d4e5f6a7b8" if kind in SIGNED else None
    with robot(kind, secret=secret) as r:
        result = deliver(kind, r.url, secret=secret)
        assert result.ok, (result, r.rejected)
        assert result.attempts == 1, (result, r.rejected)
        assert len(r.messages) == 1
        assert "demo" in str(r.messages[0])


@pytest.mark.parametrize(("kind", "error"), [("dingtalk", "errcode 310000: sign not match"),
                                         ("feishu", "code 19021: sign match fail"),
                                         ("webhook", "HTTP 401 bad signature")])
def test_a_wrong_signature_is_refused_and_not_retried(kind, error):
    with robot(kind, secret="SECthe-right-one-123") as r:
        result = deliver(kind, r.url, secret="SECa-wrong-one-4567")
        assert not result.ok
        assert result.attempts == 1
        assert error in result.detail
        assert r.messages == []
        assert r.requests == 1
        assert r.rejected[0][0] == "sign"


def test_an_unsigned_message_to_a_signed_robot_is_refused():
    with robot("dingtalk", secret="SECthe-right-one-123") as r:
        assert "310000" in deliver("dingtalk", r.url).detail


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
def test_keyword_mode_needs_the_keyword_which_the_channel_adds(kind):
    with robot(kind, keyword="agentrun-release") as r:
        refused = deliver(kind, r.url)
        assert not refused.ok
        assert ("310000" in refused.detail or "19024" in refused.detail)
        assert deliver(kind, r.url, keyword="agentrun-release").ok
        assert len(r.messages) == 1


def test_a_wrong_token_is_the_platforms_body_error():
    with robot("wecom") as r:
        result = deliver("wecom", r.url.replace(r.token, "0" * 32))
        assert not result.ok
        assert "errcode 93000" in result.detail
        assert result.attempts == 1


@pytest.mark.parametrize("how", ["500", "429", "busy"])
@pytest.mark.parametrize("kind", ["dingtalk", "feishu", "wecom", "slack", "webhook"])
def test_two_transient_failures_then_success_deliver_exactly_one_message(kind, how):
    if how == "busy" and kind in ("slack", "webhook"):
        how = "429"  # their "busy" is HTTP 429
    secret = "SECa1b2c3d4e5f6a7b8" if kind in SIGNED else None
    with robot(kind, secret=secret) as r:
        r.fail_next(2, how)
        result = deliver(kind, r.url, secret=secret)
        assert result.ok, result
        assert result.attempts == 3, result
        assert r.requests == 3, result
        assert len(r.messages) == 1


def test_retry_after_is_honoured_and_parsed():
    with robot("slack") as r:
        r.fail_next(1, "429")  # Retry-After: 0.2
        started = time.monotonic()
        assert deliver("slack", r.url).ok
        assert time.monotonic() - started >= 0.2
    assert retry_after("3") == 3.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert 0 <= retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_a_receiver_that_always_fails_gives_up_within_the_deadline():
    with robot("webhook") as r:
        r.always = True
        started = time.monotonic()
        result = deliver("webhook", r.url, timeout=1.0)
        # Retries stop at the 1 s deadline: a few requests, not the retry policy's full schedule
        # (the bound is 10x the deadline so a loaded machine cannot fail it).
        assert not result.ok
        assert "HTTP 503" in result.detail
        assert time.monotonic() - started < 10
        assert 1 <= r.requests <= 4


def test_a_dead_port_is_a_connection_failure_without_the_url():
    with socket.socket() as sock:  # bound, never listening: refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/robot/send?access_token=tok-0123456789abcdef"
        result = deliver("dingtalk", url, timeout=1.0)
    assert not result.ok
    assert "connection failed" in result.detail
    assert "tok-0123456789abcdef" not in result.detail


def test_the_rate_limiter_paces_and_refuses_past_the_deadline():
    async def go():
        limiter = RateLimiter(1, 0.3)
        started = time.monotonic()
        assert await limiter.acquire(started + 5)
        assert await limiter.acquire(started + 5)  # waits for the first slot to free
        waited = time.monotonic() - started
        assert not await limiter.acquire(time.monotonic() + 0.01)  # no slot before that deadline
        return waited

    assert asyncio.run(go()) >= 0.29


def test_mentions_reach_the_dingtalk_robot():
    with robot("dingtalk") as r:
        assert deliver("dingtalk", r.url, mention=Mention(mobiles=("13800000000",))).ok
        assert r.messages[0]["at"]["atMobiles"] == ["13800000000"]
        assert "@13800000000" in r.messages[0]["markdown"]["text"]


@pytest.mark.parametrize(("kind", "code"), [("dingtalk", "130101"), ("wecom", "45009")])
def test_the_robot_fakes_refuse_a_21st_message_within_a_minute_as_the_platforms_do(kind, code):
    import httpx

    body = render(EVENT, ChannelConfig(kind, kind, Secret("x")))
    with robot(kind) as r:
        now = [1000.0]
        r.clock = lambda: now[0]
        answers = [httpx.post(r.url, json=body).json()["errcode"] for _ in range(21)]
        assert answers == [0] * 20 + [int(code)]
        assert len(r.messages) == 20
        now[0] += 60.0  # a minute later the robot takes messages again
        assert httpx.post(r.url, json=body).json()["errcode"] == 0


def test_a_feishu_card_is_bounded_to_the_20_kb_feishu_accepts():
    from dataclasses import replace

    from agentrun_tasks.core.notify import AnalysisRow

    row = AnalysisRow(*(["x" * 40] * len(AnalysisRow.__dataclass_fields__)))
    huge = replace(EVENT, reason="配置错误 " * 4000, analysis=(row,) * 400)
    for style in ("card", "post"):
        config = ChannelConfig("feishu", "feishu", Secret("x"), style=style)
        body = render(huge, config)
        assert len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()) <= 20 * 1024 - 256
        with robot("feishu", secret="SECa1b2c3d4e5f6a7b8") as r:
            channel = open_channel("feishu", "feishu", Secret(r.url), Secret("SECa1b2c3d4e5f6a7b8"))

            async def go(channel=channel, body=body):
                async with aiohttp.ClientSession() as session:
                    return await channel.send(body, session=session, deadline=time.monotonic() + 5)

            assert asyncio.run(go()).ok, r.rejected
            # ... and the fake refuses what Feishu refuses: a body over 20 KB (code 9499)
            import httpx

            assert httpx.post(r.url, content=b'{"msg_type":"text","x":"' + b"y" * 21000 + b'"}').json()["code"] == 9499
