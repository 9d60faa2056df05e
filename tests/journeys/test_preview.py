"""Preview: a push to feature/x deploys its own runtime from the CI variables alone (the branch
picks the environment and names the agent), and the closed pull request removes it, with the
lines the generated GitHub pipeline runs."""

from __future__ import annotations

import json

from agentrun_tasks.core.pipelines import model
from agentrun_tasks.testing.project import chat, clean_environ

from .conftest import ok


def github(tmp_path, event: dict, **variables: str) -> dict:
    (tmp_path / "event.json").write_text(json.dumps(event))
    (tmp_path / "output").touch()
    return clean_environ(CI="true", GITHUB_ACTIONS="true", GITHUB_REPOSITORY="org/app", GITHUB_SHA="a" * 40,
                         GITHUB_ACTOR="dev-x", GITHUB_EVENT_PATH=str(tmp_path / "event.json"),
                         GITHUB_OUTPUT=str(tmp_path / "output"), **variables)


def test_preview(project, tmp_path):
    preview = project.root / "envs" / "preview.yaml"  # this copy rehearses previews on the embedded AgentRun
    preview.write_text(preview.read_text().replace("driver: openapi\n", "emulator: true\n")
                       .replace("profile: dev ", "profile: local "))  # the emulator's key, in .env.local

    push = github(tmp_path, {"ref": "refs/heads/feature/x"}, GITHUB_EVENT_NAME="push", GITHUB_REF="refs/heads/feature/x",
                  GITHUB_REF_NAME="feature/x")
    deployed = json.loads(ok(project.invoke("deploy", "--yes", "--json", env=push)))
    assert deployed["runtime"]["name"] == "agentrun-tasks-example-feature-x"
    outputs = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines() if "=" in line)
    assert outputs["chat_url"] == deployed["chat_url"]
    assert outputs["endpoint_url"] == deployed["url"]
    status, _, body = chat(deployed["url"])
    assert status == 200
    assert body["choices"][0]["message"]["content"]

    assert previews(project) == ["agentrun-tasks-example-feature-x"]

    closed = github(tmp_path, {"action": "closed", "number": 7, "pull_request": {
        "number": 7, "merged": True, "head": {"ref": "feature/x"}, "base": {"ref": "develop"}}},
        GITHUB_EVENT_NAME="pull_request", GITHUB_REF="refs/pull/7/merge", GITHUB_REF_NAME="7/merge",
        GITHUB_HEAD_REF="feature/x", GITHUB_BASE_REF="develop")
    removed = project.invoke(*model.REMOVE_PREVIEW.split()[1:], env=closed)
    assert "agentrun-tasks-example-feature-x" in ok(removed)
    assert previews(project) == []


def previews(project) -> list[str]:
    """The preview runtimes the emulator holds, read from its state (no call)."""
    state = json.loads((project.root / ".agentrun" / "local" / "state.json").read_text())
    return [r["agentRuntimeName"] for r in state["runtimes"].values() if r["agentRuntimeName"].endswith("feature-x")]
