"""``invoke release --json`` prints :meth:`Released.to_dict`: its keys and their order are a contract."""

import json

from agentrun_tasks.flows.release.canary import CanaryReport
from agentrun_tasks.flows.release.run import Released


def test_a_canary_release_document_lists_the_strategy_report_between_the_versions_and_the_url():
    report = CanaryReport("3", "2", result="promoted", steps=[{"weight": 1.0}])
    released = Released("prod", "canary", "3", "2", report.to_dict(), "https://ep.example", {"total": 1.5})
    assert json.dumps(released.to_dict()) == (
        '{"env": "prod", "strategy": "canary", "candidate": "3", "stable": "2", "result": "promoted", '
        '"steps": [{"weight": 1.0}], "rollback_seconds": null, "url": "https://ep.example", '
        '"timings": {"total": 1.5}}')
    assert released.result == "promoted"


def test_a_blue_green_document_keeps_its_colours_and_the_stable_version_it_reports():
    outcome = {"result": "switched", "stable": None, "active": "green", "rollback_to": None, "steps": []}
    released = Released("prod", "blue-green", "1", None, outcome, None, {"total": 0.2})
    assert list(released.to_dict()) == ["env", "strategy", "candidate", "stable", "result", "active", "rollback_to",
                                        "steps", "url", "timings"]
    assert released.to_dict()["stable"] is None
    assert released.result == "switched"
