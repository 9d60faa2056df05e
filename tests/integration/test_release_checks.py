"""release.checks through real `invoke release` processes on the embedded AgentRun, with the
example agent: a candidate that answers 500 to one word (AGENT_FAULT_MATCH) is stopped by a
prompt check before the release endpoint ever routes to it; the same check lets a healthy one
through; a command check stops or passes a release the same way and sees the candidate's URL."""

from __future__ import annotations

import json
import sys
import threading

from agentrun_tasks.testing.project import clean_environ

REFUND = """\
  checks:
    - name: handles-refunds
      prompt: "I want a refund"
      expect: {status: 200, contains: ["You said: I want a refund"], max_ms: 10000}
"""


def add_checks(project, checks: str) -> None:
    env_file = project.root / "envs" / "local.yaml"
    env_file.write_text(env_file.read_text().replace("release:\n", "release:\n" + checks, 1))


def set_agent_env(project, name: str, value: str) -> None:
    env_file = project.root / "envs" / "local.yaml"
    text = env_file.read_text()
    start = text.index(f"    {name}: ")
    end = text.index("\n", start)
    env_file.write_text(text[:start] + f'    {name}: "{value}"' + text[end:])


def release_watching_the_endpoint(project, *args: str, env=None):
    """``invoke release *args`` while every state of the release endpoint is read: the
    process and the set of versions the endpoint ever routed to."""
    seen: set[str] = set()
    result = {}
    runner = threading.Thread(target=lambda: result.update(proc=project.invoke("release", *args, env=env)))
    runner.start()
    while runner.is_alive():
        endpoint = project.endpoint_state() or {}
        routing = endpoint.get("routingConfiguration") or {}
        seen.update(w["version"] for w in routing.get("versionWeights") or [] if w["weight"] > 0)
        seen.add(endpoint.get("targetVersion") or "")
        runner.join(0.01)
    return result["proc"], seen - {""}


def test_a_prompt_check_stops_a_candidate_failing_one_word_before_any_traffic_and_passes_a_healthy_one(
        project, tmp_path):
    project.configure_release(steps="[0.5, 1.0]", interval="2s", agent_env={"AGENT_FAULT_MATCH": "refund"})
    assert project.invoke("release").returncode == 0  # version 1: refunds fail, no check yet
    add_checks(project, REFUND)
    project.set_greeting("Hello from version 2")  # version 2 still fails on "refund"
    summary = tmp_path / "summary.md"
    environ = clean_environ(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), GITHUB_REF_NAME="main",
                            GITHUB_SHA="0" * 40)
    proc, routed = release_watching_the_endpoint(project, "--env", "local", "--json", env=environ)
    assert proc.returncode == 4, proc.stderr + proc.stdout
    assert routed == {"1"}  # the release endpoint never routed to version 2, not for a moment
    assert "acceptance check 'handles-refunds' failed" in proc.stderr
    assert "got HTTP 500" in proc.stderr
    assert "injected fault (AGENT_FAULT_MATCH)" in proc.stderr
    assert "No traffic reached it" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "step 50%" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["exit_code"] == 4
    assert report["result"] == "rejected"
    [step] = report["steps"]
    assert step["phase"] == "pre-rollout"
    assert step["table"][0]["metric"] == "check handles-refunds"
    assert "check handles-refunds" in summary.read_text()
    assert "expected HTTP 200" in summary.read_text()
    assert project.invoke_json("history")[-1]["result"] == "failed"

    set_agent_env(project, "AGENT_FAULT_MATCH", "")  # fixed: version 3
    proc = project.invoke("release")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "pre-rollout checks: 1 of 1 passed" in proc.stdout
    assert "check handles-refunds" in proc.stdout
    assert "promoted version 3 to 100%" in proc.stdout
    assert project.invoke_json("endpoint.get")["targetVersion"] == "3"


def test_a_command_check_that_exits_1_stops_the_release_and_one_that_exits_0_sees_the_candidate(project):
    project.configure_release(steps="[0.5, 1.0]", interval="2s")
    assert project.invoke("release").returncode == 0
    (project.root / "evals.py").write_text(
        "import json, os, sys, urllib.request\n"
        "url = os.environ['AGENTRUN_CANDIDATE_URL']\n"
        "body = json.dumps({'messages': [{'role': 'user', 'content': 'hi'}]}).encode()\n"
        "answer = json.loads(urllib.request.urlopen(url + '/openai/v1/chat/completions', body).read())\n"
        "text = answer['choices'][0]['message']['content']\n"
        "json.dump({'url': url, 'stable': os.environ['AGENTRUN_STABLE_URL'], 'text': text}, open('seen.json', 'w'))\n"
        "print('eval: answer was', text)\n"
        "sys.exit(0 if 'Fixed' in text else 1)\n")
    add_checks(project, f"  checks:\n    - name: evals\n      command: [{sys.executable}, evals.py]\n")
    project.set_greeting("Broken")
    proc, routed = release_watching_the_endpoint(project)
    assert proc.returncode == 4, proc.stderr + proc.stdout
    assert routed == {"1"}
    assert "acceptance check 'evals' failed: exit 1, expected 0" in proc.stderr
    assert "Broken" in proc.stderr
    project.set_greeting("Fixed")
    proc = project.invoke("release")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    seen = json.loads((project.root / "seen.json").read_text())
    state = json.loads((project.root / ".agentrun" / "local" / "state.json").read_text())
    urls = {e["agentRuntimeEndpointName"]: e["endpointPublicUrl"]
            for e in state["endpoints"].values()}
    assert seen["url"].rstrip("/") == urls["prod-candidate"].rstrip("/")
    assert seen["text"].startswith("Fixed")
    assert seen["stable"].rstrip("/") == urls["prod-stable"].rstrip("/")
    assert project.invoke_json("endpoint.get")["targetVersion"] == "3"


def test_a_bad_check_is_exit_2_at_load_and_nothing_starts(project):
    add_checks(project, "  checks:\n    - name: broken\n      prompt: hi\n      expect: {regex: '(oops'}\n")
    proc = project.invoke("release")
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert "release.checks[0].expect.regex: is not a regular expression" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (project.root / ".agentrun" / "local" / "state.json").exists()  # no emulator, no deploy
