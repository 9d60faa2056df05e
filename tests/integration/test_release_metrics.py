"""release.analysis.metrics through a real `invoke release` on the embedded AgentRun: a metric
beyond its bound rolls the canary back naming it; a query outside the emulator's subset is exit
2 at load, naming the part, before anything starts."""

from __future__ import annotations

import json

SLOW = """\
  analysis:
    min_requests: 5
    max_latency_increase_ms: null   # the built-in latency gates off: the metric is what judges
    max_p99_ms: null
    metrics:
      - name: p50-duration
        query: "* | select approx_percentile(durationMs, 0.5) as value, count(*) as samples where versionId = '{version}'"
        max: 1.5
        relative: true
"""


def use_metrics(project, block: str) -> None:
    env_file = project.root / "envs" / "local.yaml"
    env_file.write_text(env_file.read_text().replace("  analysis:\n    min_requests: 5\n", block, 1))


def test_a_candidate_beyond_a_relative_metric_is_rolled_back_naming_it(project):
    project.configure_release(steps="[0.5, 1.0]", interval="3s")
    assert project.invoke("release").returncode == 0
    use_metrics(project, SLOW)
    project.configure_release(agent_env={"AGENT_LATENCY_MS": "300"})  # version 2: 300 ms slower
    proc = project.invoke("release", "--json")
    assert proc.returncode == 4, proc.stderr + proc.stdout
    assert "failed at 50%: metric p50-duration vs stable is" in proc.stderr
    step = json.loads(proc.stdout)["steps"][-1]
    row = next(r for r in step["table"] if r["metric"] == "metric p50-duration vs stable")
    assert row["verdict"] == "fail"
    assert row["candidate"] > 300 > row["stable"]
    assert project.invoke_json("endpoint.get")["targetVersion"] == "1"


def test_a_query_the_emulator_cannot_answer_is_exit_2_naming_the_part(project):
    use_metrics(project, SLOW.replace("approx_percentile(durationMs, 0.5)", "avg(outputTokens)"))
    proc = project.invoke("release")
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert "release.analysis.metrics[0].query:" in proc.stderr
    assert "the column 'outputTokens'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (project.root / ".agentrun" / "local" / "state.json").exists()
