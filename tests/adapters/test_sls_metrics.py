"""A custom metric's query through the official SLS SDK (GetLogsV2 with an analytic query),
against the local SLS, which checks the signature and answers the emulator's subset."""

from __future__ import annotations

from test_sls_logs import NOW, _metrics, _reader, sls  # noqa: F401 (the local SLS fixture)

from agentrun_tasks.core.metrics import fill

QUERY = "* | select approx_percentile(durationMs, 0.5) as value, count(*) as samples from log " \
        "where versionId = '{version}' and statusCode < 500"


def test_a_metric_is_read_per_version_and_window_from_sls(sls):  # noqa: F811
    rows = [_metrics(i, version="2" if i % 2 else "3", status=503 if i % 10 == 1 else 200) for i in range(60)]
    sls.put("proj", "store", rows)
    reader = _reader()
    assert reader.metric(fill(QUERY, "2", NOW, NOW + 6), NOW, NOW + 6, runtime="ar-0001") == (12.5, 24)
    assert reader.metric(fill(QUERY, "3", NOW, NOW + 2), NOW, NOW + 2, runtime="ar-0001") == (12.5, 15)
    assert reader.metric(fill(QUERY, "9", NOW, NOW + 6), NOW, NOW + 6, runtime="ar-0001") == (None, 0)
