"""The SLS reader through the official SDK against a local SLS that checks signatures, pages and errors."""

from __future__ import annotations

import pytest
from alibabacloud_sls20201230 import models

from agentrun_tasks.adapters.openapi_connection import Connection
from agentrun_tasks.adapters.sls_client import SlsProject
from agentrun_tasks.adapters.sls_logs import PAGE, SlsLogs
from agentrun_tasks.adapters.sls_setup import ensure_logstore
from agentrun_tasks.core import fclogs
from agentrun_tasks.core.credentials import Credentials
from agentrun_tasks.core.errors import ConfigError, CredentialError
from agentrun_tasks.core.logs import LogQuery
from agentrun_tasks.core.retry import RetryPolicy
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.testing.sls import local_sls

KEY_ID, SECRET = "LTAIFAKESLS0000000001", "sls-secret-SENTINEL-7f3a"
RUNTIME = "ar-0001"
NOW = 1_790_000_000


def _credentials(secret: str = SECRET) -> Credentials:
    return Credentials(Secret(KEY_ID, source="test"), Secret(secret, source="test"), None, None, {})


@pytest.fixture
def sls(monkeypatch):
    with local_sls({KEY_ID: SECRET}) as server:
        for name, value in server.proxy_env().items():
            monkeypatch.setenv(name, value)
        yield server


def _project(secret: str = SECRET, name: str = "proj", policy=RetryPolicy(attempts=3, initial=0.01, total=5)):
    connection = Connection("cn-hangzhou.log.aliyuncs.com", "http", "cn-hangzhou", _credentials(secret))
    return SlsProject(connection, name, policy=policy)


def _reader(secret: str = SECRET, *, logstore: str = "store", project: str = "proj"):
    return SlsLogs(_project(secret, project), logstore, RUNTIME, clock=lambda: NOW + 60)


def _metrics(i: int, *, version: str = "2", status: int = 200, error: bool = False) -> dict:
    return {"__topic__": fclogs.request_topic(RUNTIME), "__time__": NOW + i // 10,
            "invocationStartTimestamp": (NOW + i // 10) * 1000 + i % 10, "qualifier": "prod", "versionId": version,
            "statusCode": status, "durationMs": 12.5, "hasFunctionError": str(error).lower(), "requestId": f"r-{i}"}


def _line(i: int, message: str, version: str = "2") -> dict:
    return {"__topic__": fclogs.output_topic(RUNTIME), "__time__": NOW + i, "message": message, "versionId": version,
            "instanceID": "c-1"}


def test_requests_page_past_100_rows_oldest_first_and_filter_version_and_errors(sls):
    sls.put("proj", "store", [_metrics(i, version="2" if i % 3 else "3", status=503 if i % 7 == 0 else 200)
                              for i in range(250)])
    sls.put("proj", "store", [_line(0, "not a request")])  # another topic: never a request record
    reader = _reader()
    every = reader.requests(LogQuery(RUNTIME, NOW))
    assert len(every) == 250
    assert [r["request_id"] for r in every] == [f"r-{i}" for i in range(250)]
    assert len(sls.calls) == 3
    assert all(c["body"]["line"] == PAGE for c in sls.calls)
    assert {r["version"] for r in reader.requests(LogQuery(RUNTIME, NOW, version="3"))} == {"3"}
    failed = reader.requests(LogQuery(RUNTIME, NOW, errors=True))
    assert [r["request_id"] for r in failed] == [f"r-{i}" for i in range(0, 250, 7)]
    assert failed[0] == {"ts": NOW, "runtime": RUNTIME, "endpoint": "prod", "version": "3", "status": 503,
                         "latency_ms": 12.5, "outcome": "fail", "request_id": "r-0"}
    later = reader.requests(LogQuery(RUNTIME, NOW), since=NOW + 24.0005)
    assert [r["request_id"] for r in later] == [f"r-{i}" for i in range(241, 250)]


def test_output_keeps_the_last_lines_of_each_version_without_fc_framing(sls):
    sls.put("proj", "store", [_line(0, "FC Invoke Start RequestId: r-1"), _line(1, "booting"),
                              _line(2, "Traceback: boom", version="3"), _line(3, "ready"),
                              _line(4, "FC Invoke End RequestId: r-1")])
    blocks = _reader().output(LogQuery(RUNTIME, NOW, lines=1))
    assert blocks == [{"version": "2", "lines": ["ready"]}, {"version": "3", "lines": ["Traceback: boom"]}]
    assert _reader().output(LogQuery(RUNTIME, NOW, version="2", lines=5)) == [
        {"version": "2", "lines": ["booting", "ready"]}]


def test_busy_sls_is_retried_and_a_wrong_secret_is_exit_3_without_the_secret(sls):
    sls.put("proj", "store", [_metrics(1)])
    sls.fail_next(2, "ReadQuotaExceed", 403)
    assert len(_reader().requests(LogQuery(RUNTIME, NOW))) == 1
    with pytest.raises(CredentialError) as refused:
        _reader("wrong-secret-SENTINEL-9c1d").requests(LogQuery(RUNTIME, NOW))
    assert "SignatureNotMatch" in str(refused.value)
    assert "SENTINEL" not in str(refused.value)
    assert all(SECRET not in str(call) for call in sls.calls)


def test_a_logstore_that_does_not_exist_is_a_config_error_naming_it(sls):
    sls.put("proj", "store", [])
    with pytest.raises(ConfigError, match=r"logstore missing: it does not exist .LogStoreNotExist"):
        _reader(logstore="missing").requests(LogQuery(RUNTIME, NOW))


def test_ensure_logstore_makes_a_searchable_logstore_once_and_accepts_what_exists(sls):
    made = _project(name="aliyun-serverless-1234-cn-hangzhou")
    ensure_logstore(made, "default-logs", description="test")
    ensure_logstore(made, "default-logs", description="test")  # a rerun: every step already exists
    actions = [c["action"] for c in sls.calls]
    assert actions == ["CreateProject", "CreateLogStore", "CreateIndex"]
    assert sls.calls[0]["body"]["projectName"] == "aliyun-serverless-1234-cn-hangzhou"
    assert sls.calls[1]["body"] == {"logstoreName": "default-logs", "ttl": 30, "shardCount": 2}
    assert sls.calls[2]["body"]["line"]["token"]
    assert sls.calls[2]["body"]["line"]["caseSensitive"] is False
    reader = SlsLogs(made, "default-logs", RUNTIME, clock=lambda: NOW + 60)
    assert reader.requests(LogQuery(RUNTIME, NOW)) == []


def test_ensure_logstore_waits_for_what_it_just_made_to_be_served(sls):
    sls.settle = 0.5  # SLS answers "does not exist" for a moment after a create
    ensure_logstore(_project(name="slow-project", policy=RetryPolicy(attempts=20, initial=0.1, maximum=0.2, total=10)),
                    "logs", description="test")
    assert [c["action"] for c in sls.calls] == ["CreateProject", "CreateLogStore", "CreateIndex"]
    assert ("slow-project", "logs") in sls.indexed


def test_an_unindexed_logstore_is_a_config_error_that_says_so(sls):
    made = _project(name="plain-project")
    made.call("create", lambda client, options: client.create_project_with_options(
        models.CreateProjectRequest(project_name="plain-project", description="d"), {}, options))
    sls.stores[("plain-project", "raw")] = []
    with pytest.raises(ConfigError, match="has no index"):
        SlsLogs(made, "raw", RUNTIME, clock=lambda: NOW + 60).requests(LogQuery(RUNTIME, NOW))
