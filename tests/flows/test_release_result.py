"""``invoke release --json`` prints :meth:`Released.to_dict`: its keys and their order are a contract."""

import json

from agentrun_tasks.flows.release.bluegreen import BlueGreenReport
from agentrun_tasks.flows.release.canary import CanaryReport
from agentrun_tasks.flows.release.run import Released


def test_a_canary_release_document_lists_the_strategy_report_between_the_versions_and_the_url():
    report = CanaryReport("3", "2", result="promoted", steps=[{"weight": 1.0}])
    released = Released("prod", "canary", "3", "2", report, "https://ep.example", {"total": 1.5})
    assert json.dumps(released.to_dict()) == (
        '{"env": "prod", "strategy": "canary", "candidate": "3", "stable": "2", "result": "promoted", '
        '"steps": [{"weight": 1.0}], "rollback_seconds": null, "url": "https://ep.example", '
        '"timings": {"total": 1.5}}')
    assert released.result == "promoted"


def test_a_blue_green_document_keeps_its_colours_and_the_stable_version_it_reports():
    outcome = BlueGreenReport("switched", "green", None, stable=None, steps=())
    released = Released("prod", "blue-green", "1", None, outcome, None, {"total": 0.2})
    assert list(released.to_dict()) == ["env", "strategy", "candidate", "stable", "result", "active", "rollback_to",
                                        "steps", "url", "timings"]
    assert released.to_dict()["stable"] is None
    assert released.result == "switched"


def test_an_already_promoted_blue_green_document_names_its_colours_only():
    outcome = BlueGreenReport("already-promoted", "blue", "1")
    released = Released("prod", "blue-green", "2", "2", outcome, None, {"total": 0.1})
    assert list(released.to_dict()) == ["env", "strategy", "candidate", "stable", "result", "active", "rollback_to",
                                        "url", "timings"]
    assert released.result == "already-promoted"
