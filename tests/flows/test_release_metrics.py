# ruff: noqa: F811 (the emulator's driver and runtime fixtures are the checks tests', imported by name)
"""release.analysis.metrics in a real canary on the emulator: the queries are answered over the
emulator's request log (the step's probe traffic to each version), their rows join the step
table, and a metric beyond its bound rolls the step back like any gate."""

from __future__ import annotations

import dataclasses
import io

import pytest
from test_release_checks import ENDPOINT, Recording, driver, env_with, runtime  # noqa: F401

from agentrun_tasks.adapters.emulator_logs import EmulatorLogs
from agentrun_tasks.core.errors import GateFailed
from agentrun_tasks.core.metrics import Metric
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.emulator import admin
from agentrun_tasks.flows.release import metrics
from agentrun_tasks.flows.release.canary import Canary, state_of

P50 = "* | select approx_percentile(durationMs, 0.5) as value, count(*) as samples from log " \
      "where versionId = '{version}' and statusCode < 500"


def canary(driver, runtime, emu, *wanted: Metric):
    env = env_with()
    env = dataclasses.replace(env, release=dataclasses.replace(
        env.release, analysis=dataclasses.replace(env.release.analysis, metrics=wanted)))
    logs = EmulatorLogs(emu.url, headers=admin.headers(emu.root))
    read = lambda query, since, until: logs.metric(query, since, until, runtime=runtime.name)  # noqa: E731
    recording = Recording(driver)
    out = io.StringIO()
    return Canary(recording, runtime, env, Reporter(out=out, err=out), candidate="3",
                  metrics_for=lambda stable, candidate: metrics.window(env.release.analysis, read, stable,
                                                                       candidate)), recording, out


def test_metrics_within_their_bounds_are_rows_of_every_step(driver, runtime, emu):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    run, _recording, out = canary(driver, runtime, emu, Metric("p50", P50, max=60000, min_samples=3),
                                  Metric("p50-vs-stable", P50, max=50, relative=True, min_samples=3))
    report = run.run()
    assert report.result == "promoted"
    for step in report.steps:
        rows = {row["metric"]: row for row in step["table"]}
        assert rows["metric p50"]["verdict"] == "pass"
        assert rows["metric p50"]["candidate"] > 0
        assert rows["metric p50-vs-stable vs stable"]["verdict"] == "pass"
        assert rows["metric p50-vs-stable vs stable"]["stable"] > 0  # stable's own value, from its own rows
    assert "metric p50" in out.getvalue()
    assert "<= 60000" in out.getvalue()


def test_a_metric_beyond_its_bound_rolls_the_step_back(driver, runtime, emu):
    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    run, recording, _out = canary(driver, runtime, emu, Metric("p50", P50, max=0.001, min_samples=3))
    with pytest.raises(GateFailed, match=r"failed at 50%: metric p50 is [\d.]+, beyond its bound 0.001"):
        run.run()
    assert [w["weights"] for w in recording.writes] == [{"3": 0.5}, {}]
    live = state_of(driver.find_endpoint(runtime.id, ENDPOINT))
    assert (live.target_version, live.split()) == ("1", {})


def test_blue_green_judges_its_verification_by_the_metrics_too(driver, runtime, emu):
    from agentrun_tasks.flows.release.bluegreen import blue_green

    driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
    run, recording, _out = canary(driver, runtime, emu, Metric("p50", P50, max=0.001, min_samples=3))
    with pytest.raises(GateFailed, match=r"failed verification on the idle colour .*metric p50 is"):
        blue_green(recording, runtime, run.env, run.reporter, candidate="3", force=True,
                   health_check=lambda url: None, metrics_for=run.metrics_for)
    assert recording.writes == []
    assert state_of(driver.find_endpoint(runtime.id, ENDPOINT)).target_version == "1"
