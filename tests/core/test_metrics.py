"""release.analysis.metrics: the schema (placeholders, bounds), the subset of SLS queries the
embedded AgentRun answers (and exit 2 naming anything else, at load), and the verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun_tasks.core.analysis import Verdict, format_rows
from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.metric_query import parse, request_rows
from agentrun_tasks.core.metrics import Metric, Reading, combine, fill, judge

ENV = """\
region: cn-hangzhou
{emulator}agent:
  name: demo
  code: {{src: code, language: python3.12, command: [python3, app.py]}}
release:
  analysis:
    metrics:
"""
P50 = "* | select approx_percentile(durationMs, 0.5) as value, count(*) as samples from log where versionId = '{version}'"
ROWS = request_rows([{"version": v, "endpoint": "prod", "status": s, "latency_ms": ms, "ts": 100.0 + i}
                     for i, (v, s, ms) in enumerate([("1", 200, 10), ("1", 200, 30), ("1", 500, 5), ("2", 200, 90),
                                                     ("2", 200, 110), ("2", 200, 100), ("2", 502, 1)])])


def load(tmp_path: Path, metrics: str, emulator: bool = False):
    (tmp_path / "envs").mkdir(exist_ok=True)
    (tmp_path / "envs" / "dev.yaml").write_text(ENV.format(emulator="emulator: true\n" if emulator else "") + metrics)
    return load_env("dev", root=tmp_path, environ={})


@pytest.mark.parametrize(("query", "value", "samples"), [
    (P50.replace("{version}", "2"), 90.0, 4),  # nearest rank: the 2nd of 1, 90, 100, 110
    ("select avg(durationMs) as value, count(*) as samples where versionId = '1' and statusCode < 500", 20.0, 2),
    ("__topic__: FCRequestMetrics | select count_if(statusCode >= 500) as value, count(*) as samples "
     "from log where versionId = '2'", 1.0, 4),
    ("* | select max(durationMs) as value, count(*) as samples where qualifier = 'prod'", 110.0, 7),
    ("select sum(durationMs) as value, count(*) as samples where versionId = '3'", None, 0),
], ids=["p50", "avg-of-successes", "count-if", "max", "no-rows"])
def test_the_emulator_answers_its_subset_over_the_request_log(query, value, samples):
    assert parse(query).answer(ROWS) == (value, samples)


@pytest.mark.parametrize(("query", "part"), [
    ("* | select stddev(durationMs) as value, count(*) as samples", "the function stddev()"),
    ("* | select avg(tokens) as value, count(*) as samples", "the column 'tokens'"),
    ("* | select avg(durationMs) as value, count(*) as samples group by versionId", "'group'"),
    ("* | select avg(durationMs) as value, count(*) as samples, 1 as x", ": 1.0 is outside"),
    ("status: 500 | select count(*) as value, count(*) as samples", "'status'"),
    ("* | select avg(durationMs) as value, count(*) as samples where durationMs like '1%'", "'like'"),
])
def test_anything_outside_the_subset_is_a_config_error_naming_the_part(query, part):
    with pytest.raises(ConfigError) as error:
        parse(query)
    assert part in str(error.value)
    assert "outside the subset" in str(error.value)


def test_metrics_load_and_fill_their_placeholders(tmp_path):
    cfg = load(tmp_path, f"      - {{name: p50, query: \"{P50}\", max: 800, relative: false, min_samples: 5}}\n"
                         f"      - {{name: p50-vs-stable, query: \"{P50} and __time__ >= {{from}}\", max: 1.5, "
                         "relative: true}\n")
    p50, relative = cfg.release.analysis.metrics
    assert p50 == Metric("p50", P50, 800.0, None, False, 5)
    assert relative.relative
    assert relative.min_samples is None
    assert fill(relative.query, "7", 100.9, 160.2).endswith("versionId = '7' and __time__ >= 100")


@pytest.mark.parametrize(("metric", "problem"), [
    ("{name: a, query: \"* | select count(*) as value, count(*) as samples\", max: 1}", "names no {version}"),
    ("{name: a, query: \"select count(*) as value, count(*) as samples where versionId = '{version}' and "
     "__time__ > {since}\", max: 1}", "{since} is not a placeholder"),
    ("{name: a, query: \"select count(*) as v where versionId = '{version}'\", max: 1}", "selects no 'value'"),
    ("{name: a, query: \"select count(*) as value where versionId = '{version}'\", max: 1}", "selects no 'samples'"),
    (f"{{name: a, query: \"{P50}\"}}", "has neither max nor min"),
    (f"{{name: a, query: \"{P50}\", maximum: 3}}", "unknown key 'maximum'. Did you mean 'max'?"),
    (f"{{name: a, query: \"{P50}\", max: 1}}\n      - {{name: a, query: \"{P50}\", max: 2}}",
     "two metrics are named 'a'"),
], ids=["no-version", "unknown-placeholder", "no-value", "no-samples", "no-bound", "typo", "same-name"])
def test_bad_metrics_fail_at_load_naming_the_field(tmp_path, metric, problem):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, f"      - {metric}\n")
    assert problem in str(error.value)
    assert "release.analysis.metrics" in str(error.value)


def test_on_the_emulator_an_unsupported_query_fails_at_load_and_on_the_cloud_it_goes_to_sls(tmp_path):
    metric = "      - {name: tokens, query: \"* | select avg(tokens) as value, count(*) as samples " \
             "where versionId = '{version}'\", max: 900}\n"
    assert load(tmp_path, metric).release.analysis.metrics[0].name == "tokens"  # SLS knows its own columns
    with pytest.raises(ConfigError) as error:
        load(tmp_path, metric, emulator=True)
    assert "release.analysis.metrics[0].query:" in str(error.value)
    assert "the column 'tokens'" in str(error.value)
    assert error.value.exit_code == 2


@pytest.mark.parametrize(("metric", "candidate", "stable", "verdict", "detail"), [
    (Metric("p50", "q", max=100), Reading(80, 30), None, "pass", "30 samples"),
    (Metric("p50", "q", max=100), Reading(120, 30), None, "fail", "30 samples"),
    (Metric("ok", "q", min=0.9), Reading(0.8, 30), None, "fail", ""),
    (Metric("p50", "q", max=100), Reading(500, 3), None, "inconclusive", "candidate has 3 samples (< 20)"),
    (Metric("p50", "q", max=100, min_samples=2), Reading(50, 3), None, "pass", ""),
    (Metric("p50", "q", max=1.2, relative=True), Reading(110, 30), Reading(100, 30), "pass", "1.10x stable"),
    (Metric("p50", "q", max=1.2, relative=True), Reading(150, 30), Reading(100, 30), "fail", "1.50x stable"),
    (Metric("p50", "q", max=1.2, relative=True), Reading(150, 30), Reading(100, 4), "inconclusive",
     "stable has 4 samples"),
    (Metric("p50", "q", max=1.2, relative=True), Reading(150, 30), Reading(0, 40), "inconclusive", "no stable"),
], ids=["under", "over", "under-floor", "too-few", "own-minimum", "relative-ok", "relative-over",
        "relative-thin-stable", "relative-zero"])
def test_a_metric_is_judged_only_on_enough_samples(metric, candidate, stable, verdict, detail):
    row = judge(metric, candidate, stable, min_requests=20)
    assert row.verdict == verdict
    assert detail in row.detail


def test_metric_rows_join_the_step_verdict_and_table():
    ceiling = judge(Metric("p50", "q", max=100), Reading(120, 30), None, 20)
    floor = judge(Metric("ok", "q", min=0.5, relative=True), Reading(90, 30), Reading(100, 30), 20)
    step = Verdict("pass", [])
    failed = combine(step, [floor, ceiling])
    assert failed.result == "fail"
    assert failed.reason.startswith("metric p50 is 120, beyond its bound 100")
    assert [line[3] for line in format_rows(failed)[1]] == [">= 0.5x stable", "<= 100"]
    thin = judge(Metric("p50", "q", max=100), Reading(1, 2), None, 20)
    assert combine(step, [floor, thin]).result == "inconclusive"
    assert combine(Verdict("fail", [], "error rate"), [floor]).reason == "error rate"
