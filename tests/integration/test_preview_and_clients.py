"""A feature branch's preview runtime (rehearsed on the emulator), and the official openai client
talking to a deployed endpoint."""

from __future__ import annotations

import json

from agentrun_tasks.testing.project import clean_environ

GITHUB_FEATURE_PUSH = {
    "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/feature/login",
    "GITHUB_REF_NAME": "feature/login", "GITHUB_REF_TYPE": "branch", "GITHUB_SHA": "0123456789abcdef0123",
    "GITHUB_ACTOR": "octocat", "GITHUB_REPOSITORY": "org/app", "GITHUB_RUN_ID": "42",
    "GITHUB_SERVER_URL": "https://github.com",
}


def test_a_feature_branch_gets_its_own_runtime_and_remove_deletes_it(project):
    preview = project.root / "envs" / "preview.yaml"
    # The rehearsal: the same preview file, pointed at the emulator with the emulator's key.
    preview.write_text(preview.read_text().replace("driver: openapi", "driver: openapi\nemulator: true")
                       .replace("profile: dev", "profile: local"))
    env = clean_environ(**GITHUB_FEATURE_PUSH, GITHUB_OUTPUT=str(project.root / "github_output"))
    proc = project.invoke("release", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    # The key is masked on GitHub before anything else prints; under --json the mask command goes
    # to stderr (the runner reads commands there too), so stdout stays one JSON document.
    assert "::add-mask::" in proc.stderr
    assert "::add-mask::" not in proc.stdout
    assert json.loads(proc.stdout)["candidate"] == "1"
    info = project.invoke("info", "--json", env=env)
    assert '"name": "agentrun-tasks-example-feature-login"' in info.stdout
    assert "version=1" in (project.root / "github_output").read_text()
    removed = project.invoke("remove", "--yes", "--json", env=env)
    assert removed.returncode == 0
    assert "runtime agentrun-tasks-example-feature-login" in removed.stdout
    gone = project.invoke("info", env=env)
    assert gone.returncode == 2
    assert "does not exist" in gone.stderr


def test_the_official_openai_client_talks_to_a_deployed_endpoint(project):
    from openai import OpenAI

    url = project.invoke_json("deploy")["url"]
    client = OpenAI(base_url=url + "/openai/v1", api_key="unused-locally")
    answer = client.chat.completions.create(model="agent", messages=[{"role": "user", "content": "ping"}])
    assert answer.choices[0].message.content.endswith("You said: ping")
    chunks = client.chat.completions.create(model="agent", messages=[{"role": "user", "content": "stream me"}],
                                            stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("You said: stream me")
