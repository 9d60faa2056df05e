"""Which SLS rows of an AgentRun runtime are requests, which are output, and what counts as failed."""

from __future__ import annotations

from agentrun_tasks.core import fclogs


def test_topics_and_query_name_the_runtimes_fc_function():
    assert fclogs.request_topic("ar-1") == "FCRequestMetrics:/agentrun-ar-1"
    assert fclogs.output_topic("ar-1") == "FCLogs:agentrun-ar-1"
    assert fclogs.topic_query("FCLogs:agentrun-ar-1") == '__topic__: "FCLogs:agentrun-ar-1"'


def test_a_request_fails_on_a_5xx_or_a_function_error_even_without_a_status():
    base = {"__time__": "1700000000", "qualifier": "prod", "versionId": "4", "durationMs": "9.5"}
    assert fclogs.request_record({**base, "statusCode": "502"}, "rt")["outcome"] == "fail"
    assert fclogs.request_record({**base, "statusCode": "404"}, "rt")["outcome"] == "success"
    no_status = fclogs.request_record({**base, "hasFunctionError": "true"}, "rt")
    assert no_status["outcome"] == "fail"
    assert no_status["status"] == "?"
    assert no_status["ts"] == 1700000000.0
    assert no_status["latency_ms"] == 9.5
    assert no_status["version"] == "4"


def test_the_millisecond_start_time_orders_requests_within_a_second():
    rows = [{"__time__": "1700000000", "invocationStartTimestamp": str(1700000000000 + ms), "requestId": str(ms)}
            for ms in (900, 100, 500)]
    found = fclogs.requests_matching(rows, "rt", since=1700000000.2, version=None, errors=False)
    assert [r["request_id"] for r in found] == ["500", "900"]


def test_output_drops_fc_framing_and_blank_lines_and_keeps_the_last_lines_per_version():
    rows = [{"__time__": str(i), "versionId": v, "message": m} for i, (v, m) in enumerate(
        [("1", "FC Invoke Start RequestId: 1-a"), ("1", "one\n"), ("2", "   "), ("1", "two"), ("2", "other"),
         ("1", "FC Invoke End RequestId: 1-a")])]
    assert fclogs.output_blocks(rows, version=None, lines=1) == [{"version": "1", "lines": ["two"]},
                                                                  {"version": "2", "lines": ["other"]}]
    assert fclogs.output_blocks(rows, version="1", lines=5) == [{"version": "1", "lines": ["one", "two"]}]
