"""Release life: a first release, a healthy canary, a faulty one rolled back by its gates,
`invoke rollback` pressed twice after it (nothing moves), a fix released and promoted by hand,
and `invoke history` telling that story."""

from __future__ import annotations

import json
import time

from .conftest import ok


def serving(project) -> tuple[str, dict]:
    """The endpoint's target version and canary weights, read from the emulator's state (no call)."""
    endpoint = project.endpoint_state()
    routing = endpoint.get("routingConfiguration") or {}
    return endpoint["targetVersion"], {w["version"]: w["weight"] for w in routing.get("versionWeights") or []
                                       if w["weight"] and w["version"] != endpoint["targetVersion"]}


def set_fault_rate(project, rate: str) -> None:
    env_file = project.root / "envs" / "local.yaml"
    text = env_file.read_text()
    env_file.write_text(text.replace('AGENT_FAULT_RATE: "0.6"', f'AGENT_FAULT_RATE: "{rate}"'))


def test_release_life(project):
    project.configure_release(steps="[0.5, 1.0]", interval="2s")
    assert json.loads(ok(project.invoke("release", "--json")))["result"] == "first-release"

    project.set_greeting("Hello from version 2")
    assert "promoted version 2 to 100%" in ok(project.invoke("release"))

    # A faulty version 3: its gates roll it back at the first step (exit 4), 100% on version 2.
    project.configure_release(agent_env={"AGENT_FAULT_RATE": "0.6"})
    faulty = project.invoke("release")
    assert faulty.returncode == 4, faulty.stderr + faulty.stdout
    assert "rolled back: version 2 serves 100%" in faulty.stdout + faulty.stderr
    assert serving(project) == ("2", {})

    # `invoke rollback` right after, twice (a CI button pressed again): the endpoint stays put and
    # the healthy version 2 is not condemned.
    for _ in range(2):
        pressed = json.loads(ok(project.invoke("rollback", "--json")))
        assert (pressed["result"], pressed["to"]) == ("already-rolled-back", "2")
        assert serving(project) == ("2", {})
    assert "already rolled back: version 2 serves 100%" in ok(project.invoke("rollback"))

    # The fix (version 4), released with a long step and promoted by hand at its first one.
    set_fault_rate(project, "0")
    project.set_greeting("Hello from the fix")
    project.configure_release(steps="[0.5, 1.0]", interval="5m")
    with project.background("release") as release:
        deadline = time.monotonic() + 120
        while serving(project)[1].get("4", 0) < 0.5:
            assert time.monotonic() < deadline, "the fix never reached its canary"
            assert release.poll() is None, "the fix never reached its canary"
            time.sleep(0.1)
        promoted = json.loads(ok(project.invoke("promote", "--json")))
        assert (promoted["from"], promoted["to"]) == ("2", "4")
        assert release.wait(timeout=120) == 0
    assert serving(project) == ("4", {})

    story = [(e["kind"], e["from_version"], e["to_version"], e["result"])
             for e in json.loads(ok(project.invoke("history", "--json")))]
    assert story == [("release", None, "1", "ok"), ("release", "1", "2", "ok"), ("release", "2", "3", "rolled-back"),
                     ("release", "2", "4", "ok"), ("promote", "2", "4", "ok")]
