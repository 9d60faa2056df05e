"""OssStateStore against the emulator's OSS over real HTTP: the store contract, SDK errors mapped
onto exit codes, lock contention between two runners' stores, history, and no secret in output."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import web

from agentrun_tasks.adapters.oss_store import OssStateStore
from agentrun_tasks.core import history, lock
from agentrun_tasks.core.errors import (
    BusyError,
    ConfigError,
    CredentialError,
    TransientError,
)
from agentrun_tasks.core.retry import RetryPolicy
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.emulator.oss import make_oss_app
from agentrun_tasks.testing.aio import serving

AK = "LTAIstatestore0001"
SENTINEL = "SENTINEL-oss-secret-7f3a9c1e5b"  # planted as the AccessKey secret; must never be printed
BUCKET = "release-state"
FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, total=5)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


@dataclass
class Creds:
    access_key_id: str
    access_key_secret: Secret
    security_token: Secret | None = None


@pytest.fixture
def url(tmp_path):
    with serving(make_oss_app(tmp_path, {AK: SENTINEL}.get)) as base:
        yield base


def store(url: str, *, prefix: str = "agentrun/demo", secret: str = SENTINEL, ak: str = AK,
          bucket: str = BUCKET) -> OssStateStore:
    return OssStateStore(url, bucket, prefix, Creds(ak, Secret(secret)), "cn-hangzhou", retry=FAST)


def test_store_contract(url):
    s = store(url)
    s.ensure_bucket()
    s.ensure_bucket()  # idempotent
    assert s.get("locks/prod.json") is None
    assert s.create("locks/prod.json", b"one") is True
    assert s.create("locks/prod.json", b"two") is False
    assert s.get("locks/prod.json") == b"one"
    s.put("locks/prod.json", b"three")
    assert s.get("locks/prod.json") == b"three"
    s.put("history/prod/b.json", b"{}")
    s.put("history/prod/a.json", b"{}")
    s.put("history/dev/c.json", b"{}")
    assert s.list("history/prod/") == ["history/prod/a.json", "history/prod/b.json"]
    assert store(url, prefix="other").list() == []  # keys are scoped by prefix
    s.delete("locks/prod.json")
    s.delete("locks/prod.json")  # deleting a missing object is fine
    assert s.get("locks/prod.json") is None


def test_create_is_atomic_across_concurrent_runners(url):
    store(url).ensure_bucket()
    runners = [store(url) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(lambda pair: pair[1].create("locks/prod.json", f"runner {pair[0]}".encode()),
                            enumerate(runners)))
    assert won.count(True) == 1
    assert runners[0].get("locks/prod.json") == f"runner {won.index(True)}".encode()


def test_lock_contention_between_two_runners(url):
    a, b = store(url), store(url)
    a.ensure_bucket()
    key = "locks/prod.json"
    held = lock.acquire(a, key, lock.Lock.new("runner-a", "prod", "4", ttl=600, now=NOW, ci_run="run 1"),
                        force=False, now=NOW)
    with pytest.raises(BusyError, match=r"runner-a.*run 1.*--force"):
        lock.acquire(b, key, lock.Lock.new("runner-b", "prod", "5", ttl=600, now=NOW), force=False, now=NOW)
    # After the TTL the holder is presumed dead and b breaks the stale lock without --force.
    later = held.expires_at + timedelta(seconds=1)
    taken = lock.acquire(b, key, lock.Lock.new("runner-b", "prod", "5", ttl=600, now=later), force=False, now=later)
    assert lock.Lock.from_json(a.get(key)) == taken
    # --force breaks a live lock; release by a non-owner leaves it alone.
    forced = lock.acquire(a, key, lock.Lock.new("runner-a", "prod", "6", ttl=600, now=later), force=True, now=later)
    assert lock.release(b, key, taken) is False
    assert lock.Lock.from_json(b.get(key)) == forced
    assert lock.release(a, key, forced) is True
    assert a.get(key) is None


def test_history_written_by_one_runner_is_read_by_another(url):
    writer, reader = store(url), store(url)
    writer.ensure_bucket()
    for minutes in (30, 0, 10):
        started = NOW + timedelta(minutes=minutes)
        history.save(writer, history.Record("release", "prod", "ci", "abc123", "run 7", "1", "2", "ok", "", [],
                                            started, started + timedelta(seconds=40)))
    records = history.load(reader, "prod")
    assert [r.started_at for r in records] == [NOW + timedelta(minutes=m) for m in (0, 10, 30)]


def test_errors_map_to_exit_codes(url, tmp_path):
    store(url).ensure_bucket()
    with pytest.raises(CredentialError, match="SignatureDoesNotMatch") as err:
        store(url, secret="wrong-secret-value").get("x")
    assert err.value.exit_code == 3
    with pytest.raises(CredentialError, match="InvalidAccessKeyId"):
        store(url, ak="LTAIunknown").put("x", b"1")
    with pytest.raises(ConfigError, match="does not exist"):
        store(url, bucket="missing-bucket").create("x", b"1")


def test_throttling_and_connection_errors_are_transient_and_retried():
    calls = []

    async def busy(request: web.Request) -> web.Response:
        calls.append(request.method)
        return web.Response(status=503, content_type="application/xml", text=(
            "<Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message>"
            "<RequestId>R1</RequestId><HostId>h</HostId></Error>"))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", busy)
    with serving(app) as base, pytest.raises(TransientError, match="503 ServiceUnavailable"):
        store(base).get("x")
    assert len(calls) == FAST.attempts  # retried by our policy, not by the SDK
    with pytest.raises(TransientError, match="network"):
        store(base).get("x")  # the server is gone now: connection refused


def test_secret_never_appears_in_errors_or_logs(url, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    store(url).ensure_bucket()
    messages = []
    for op in (lambda: store(url).put("k", b"v"), lambda: store(url, bucket="missing-bucket").get("k"),
               lambda: store(url, ak="LTAIunknown").get("k"), lambda: store("http://127.0.0.1:9", prefix="p").list()):
        try:
            op()
        except Exception as exc:  # every failure's text is checked
            messages.append(f"{exc!s} {exc!r} {exc.__cause__!r} {exc.__context__!r}")
    s = store(url)
    messages.append(f"{s.__dict__!r} {s!r}")
    out = capsys.readouterr()
    assert len(messages) == 4
    for text in [*messages, caplog.text, out.out, out.err]:
        assert SENTINEL not in text
