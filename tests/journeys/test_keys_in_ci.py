"""Keys in CI: prod's key lives in GitHub environment secrets and rotate-keys writes the new one
there (two GitHub sinks: `prod` and `prod-rotation`, as docs/ci.md says). The generated
release-prod job releases with key A from the secrets; the generated scheduled rotate-keys job
rotates (the key is 100 days old, past its --min-age 90d), writing the pair variable
ALIYUN_ACCESS_KEY_PAIR_PROD through GitHub's secrets API (the local fake decrypts what it is
sent); the next release-prod job, given what the fake now holds through the workflow's env
mapping, releases with key B while A is inactive; the next scheduled run deletes A. `prod` holds
only the pair (the setup the README recommends), `prod-rotation` the separate id and secret too
(a setup made by hand, which the sink keeps up to date). No key secret or token in any output."""

from __future__ import annotations

import os
import sys

from agentrun_tasks.core.credentials import split_pair
from agentrun_tasks.core.pipelines import model
from agentrun_tasks.emulator.account import BOOTSTRAP_USER
from agentrun_tasks.testing.ci_jobs import github_environ, github_job, github_lines
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.pipeline_eval import environment as pipeline_environment
from agentrun_tasks.testing.platforms import GitHubFake
from agentrun_tasks.testing.project import clean_environ, cloud_env_file
from agentrun_tasks.testing.rotation import ram_keys
from agentrun_tasks.testing.sentinels import Sentinels

from .ci_steps import WORKFLOW, answers, run_job
from .conftest import ok

PAIR, KEY_ID, KEY_SECRET = model.pair_secret("prod"), *model.secret_names("prod")[:2]
PROD, ROTATION = "org/app environment prod", "org/app environment prod-rotation"


def test_keys_in_ci(project, tmp_path):
    sentinels, outputs = Sentinels(), {}
    token = sentinels.new("the token that may write GitHub secrets")
    with running_emulator(tmp_path / "cloud") as cloud, GitHubFake(token).serving() as github:
        key_a = cloud.access_key_id
        secret_a = sentinels.plant(cloud.access_key_secret.reveal(), "key A's secret")
        cloud.backdate_key(key_a, days=100)  # a quarterly rotation is due
        sinks = "".join(f"    - {{type: github, repo: org/app, environment: {e}, api_url: '{github.url}'}}\n"
                        for e in ("prod", "prod-rotation"))
        (project.root / "envs" / "prod.yaml").write_text(cloud_env_file(
            cloud.port, "keys-journey", rest=f"credentials:\n  profile: prod\n  sinks:\n{sinks}"
            + cloud.state_bucket("journey-state")))
        outputs["ci.init"] = project.invoke("ci.init", "--platform", "github", env=clean_environ())
        workflow = (project.root / WORKFLOW).read_text()

        # What the team stored in the repository's settings before the first run.
        github.values[PROD] = {PAIR: f"{key_a}:{secret_a}", "ALIYUN_ACCOUNT_ID_PROD": cloud.account_id}
        github.values[ROTATION] = {KEY_ID: key_a, KEY_SECRET: secret_a, "AGENTRUN_GITHUB_TOKEN": token}
        path = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
        (tmp_path / "github_output").touch()

        def job(name: str, environment: str, event: str, *, extra: str = "") -> str:
            """Job ``name`` of the generated workflow, run with the secrets ``environment`` sees now."""
            definition = github_job(workflow, name)
            assert pipeline_environment(definition) == environment
            runner = clean_environ(CI="true", GITHUB_ACTIONS="true", GITHUB_EVENT_NAME=event, GITHUB_REF="refs/heads/main",
                                   GITHUB_REF_NAME="main", GITHUB_REPOSITORY="org/app", GITHUB_RUN_ID="88",
                                   GITHUB_SHA="d" * 40, GITHUB_OUTPUT=str(tmp_path / "github_output"), PATH=path)
            env = github_environ(definition, secrets=github.visible("org/app", environment), base=runner)
            lines = [line + extra for line in github_lines(definition)]
            return run_job(lines, project.root, env, f"{name} ({len(outputs)})", outputs)

        answers(job("release-prod", "prod", "push"))  # with key A, from the pair secret alone

        # The weekly schedule: key A is past --min-age, so it rotates. The line is the generated one; the
        # grace a real run waits (the env's deploy_timeout, 15 min) is cut to 0s here.
        job("rotate-keys", "prod-rotation", "schedule", extra=" --grace 0s")
        pair_b = github.values[PROD][PAIR]
        key_b, secret_b = split_pair(pair_b)
        sentinels.plant(secret_b, "key B's secret")
        assert key_b != key_a and set(github.values[PROD]) == {PAIR, "ALIYUN_ACCOUNT_ID_PROD"}
        assert github.visible("org/app", "prod-rotation")[PAIR] == pair_b
        assert (github.values[ROTATION][KEY_ID], github.values[ROTATION][KEY_SECRET]) == (key_b, secret_b)
        assert {k: v["status"] for k, v in ram_keys(cloud.root, BOOTSTRAP_USER).items()} == {
            key_a: "Inactive", key_b: "Active"}

        answers(job("release-prod", "prod", "push"))  # key A is inactive: this is key B, from the pair

        job("rotate-keys", "prod-rotation", "schedule")  # next week: B is young; A, deactivated, goes
        assert {k: v["status"] for k, v in ram_keys(cloud.root, BOOTSTRAP_USER).items()} == {key_b: "Active"}
        assert github.values[PROD][PAIR] == pair_b

    ok(outputs["ci.init"])
    assert not sentinels.leaks_in(outputs, allowed_prefix="::add-mask::")
