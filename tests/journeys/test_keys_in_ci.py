"""Keys in CI: prod's key lives in the CI platform's settings and rotate-keys writes the new one
there. The generated release-prod job releases with key A; the generated scheduled rotate-keys
job rotates (the key is 100 days old, past its --min-age 90d), writing the pair variable
ALIYUN_ACCESS_KEY_PAIR_PROD through the platform's API (local fakes that decrypt and keep what
they are sent); the next release-prod job, given what the platform now holds as the pipeline
passes it, releases with key B while A is inactive; the next scheduled run deletes A.

GitHub: jobs get only the secrets the workflow maps (`${{ secrets.X }}` in `env:`), repository
secrets overridden by their environment's; two sinks, `prod` and `prod-rotation` (docs/ci.md).
`prod` holds only the pair (the setup the README recommends), `prod-rotation` the separate id and
secret too (a setup made by hand, which the sink keeps up to date). GitLab: jobs get the CI/CD
variables of their environment's scope. No key secret or API token in any output. The jobs'
install step is left out (the migrate journey runs it): invoke is this checkout's."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from ruamel.yaml import YAML

from agentrun_tasks.core.credentials import split_pair
from agentrun_tasks.core.pipelines import model
from agentrun_tasks.emulator.account import BOOTSTRAP_USER
from agentrun_tasks.testing.ci_jobs import github_environ, github_job, github_lines, gitlab_environ, gitlab_lines
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.pipeline_eval import environment as github_environment
from agentrun_tasks.testing.platforms import GitHubFake, GitLabFake
from agentrun_tasks.testing.project import clean_environ, cloud_env_file
from agentrun_tasks.testing.rotation import ram_keys
from agentrun_tasks.testing.sentinels import Sentinels

from .ci_steps import GITLAB_CI, WORKFLOW, answers, run_job
from .conftest import ok

PAIR, KEY_ID, KEY_SECRET = model.pair_secret("prod"), *model.secret_names("prod")[:2]
ACCOUNT = model.secret_names("prod")[2]
GH_PROD, GH_ROTATION = "org/app environment prod", "org/app environment prod-rotation"
GL_PROJECT = "projects 42"


@dataclass
class Platform:
    """One CI platform in the journey: its sinks, what the team stores first, how a job runs."""

    sinks: str  # the credentials.sinks entries of envs/prod.yaml
    store: Callable[[str, str, str], None]  # (key id, secret, api token) -> the settings before run 1
    job: Callable[[str, str, str], tuple[list[str], dict]]  # (job, event, file text) -> lines, env
    prod_pair: Callable[[], str]  # the pair a prod job gets now


def github(fake: GitHubFake, runner: dict, account: str) -> Platform:
    def store(key_id: str, secret: str, token: str) -> None:
        fake.values[GH_PROD] = {PAIR: f"{key_id}:{secret}", ACCOUNT: account}
        fake.values[GH_ROTATION] = {KEY_ID: key_id, KEY_SECRET: secret, "AGENTRUN_GITHUB_TOKEN": token}

    def job(name: str, event: str, workflow: str) -> tuple[list[str], dict]:
        definition = github_job(workflow, name)
        secrets = fake.visible("org/app", github_environment(definition))
        return github_lines(definition), github_environ(definition, secrets=secrets,
                                                         base={**runner, "GITHUB_EVENT_NAME": event})

    def prod_pair() -> str:
        # The sink keeps prod-rotation's hand-made separate secrets in step with its pair.
        rotation = fake.values[GH_ROTATION]
        assert rotation[PAIR] == f"{rotation[KEY_ID]}:{rotation[KEY_SECRET]}"
        assert set(fake.values[GH_PROD]) == {PAIR, ACCOUNT}
        return fake.values[GH_PROD][PAIR]

    sinks = "".join(f"    - {{type: github, repo: org/app, environment: {e}, api_url: '{fake.url}'}}\n"
                    for e in ("prod", "prod-rotation"))
    return Platform(sinks, store, job, prod_pair)


def gitlab(fake: GitLabFake, runner: dict, account: str) -> Platform:
    def store(key_id: str, secret: str, token: str) -> None:
        fake.values[f"{GL_PROJECT} scope prod"] = {PAIR: f"{key_id}:{secret}", "GITLAB_TOKEN": token}
        fake.values[f"{GL_PROJECT} scope *"] = {ACCOUNT: account}

    def job(name: str, event: str, pipeline: str) -> tuple[list[str], dict]:
        variables = fake.visible(GL_PROJECT, gitlab_environment(pipeline, name))
        if event == "schedule":  # the pipeline schedule's own variable (docs/ci.md)
            variables = {**variables, "AGENTRUN_SCHEDULE": "rotate-keys"}
        return gitlab_lines(pipeline, name), gitlab_environ(pipeline, name, variables=variables,
                                                            base={**runner, "CI_PIPELINE_SOURCE": event})

    sinks = f"    - {{type: gitlab, project: '42', environment_scope: prod, protected: true, url: '{fake.url}'}}\n"
    return Platform(sinks, store, job, lambda: fake.values[f"{GL_PROJECT} scope prod"][PAIR])


def gitlab_environment(pipeline: str, name: str) -> str:
    """The environment whose scoped variables GitLab gives job ``name``."""
    return YAML(typ="safe", pure=True).load(pipeline)[name]["environment"]["name"]


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_keys_in_ci(project, tmp_path, kind):
    sentinels, outputs = Sentinels(), {}
    token = sentinels.new(f"the token that may write {kind}'s secrets")
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
    (tmp_path / "github_output").touch()
    runner = {"github": clean_environ(CI="true", GITHUB_ACTIONS="true", GITHUB_REF="refs/heads/main",
                                      GITHUB_REF_NAME="main", GITHUB_REPOSITORY="org/app", GITHUB_RUN_ID="88",
                                      GITHUB_SHA="d" * 40, GITHUB_OUTPUT=str(tmp_path / "github_output"), PATH=path),
              "gitlab": clean_environ(CI="true", GITLAB_CI="true", CI_COMMIT_BRANCH="main", CI_COMMIT_REF_NAME="main",
                                      CI_PROJECT_PATH="org/app", CI_PROJECT_ID="42", CI_JOB_ID="93",
                                      CI_PIPELINE_ID="92", CI_COMMIT_SHA="e" * 40, CI_PROJECT_DIR=str(project.root),
                                      PATH=path)}[kind]
    fake = GitHubFake(token) if kind == "github" else GitLabFake(token)
    with running_emulator(tmp_path / "cloud") as cloud, fake.serving():
        platform = (github if kind == "github" else gitlab)(fake, runner, cloud.account_id)
        key_a = cloud.access_key_id
        secret_a = sentinels.plant(cloud.access_key_secret.reveal(), "key A's secret")
        cloud.backdate_key(key_a, days=100)  # a quarterly rotation is due
        (project.root / "envs" / "prod.yaml").write_text(cloud_env_file(
            cloud.port, "keys-journey", rest=f"credentials:\n  profile: prod\n  sinks:\n{platform.sinks}"
            + cloud.state_bucket("journey-state")))
        outputs["ci.init"] = project.invoke("ci.init", "--platform", kind, env=clean_environ())
        assert "sink" not in ok(outputs["ci.init"]) + outputs["ci.init"].stderr  # the sinks cover every prod job
        text = (project.root / (WORKFLOW if kind == "github" else GITLAB_CI)).read_text()
        platform.store(key_a, secret_a, token)

        def run(name: str, event: str, extra: str = "") -> str:
            lines, env = platform.job(name, event, text)
            return run_job([line + extra for line in lines], project.root, env, f"{name} ({len(outputs)})", outputs)

        answers(run("release-prod", "push"))  # with key A, from the pair alone

        # The weekly schedule: key A is past --min-age, so it rotates. The line is the generated one; the
        # grace a real run waits (the env's deploy_timeout, 15 min) is cut to 0s here.
        run("rotate-keys", "schedule", extra=" --grace 0s")
        pair_b = platform.prod_pair()
        key_b, secret_b = split_pair(pair_b)
        sentinels.plant(secret_b, "key B's secret")
        assert key_b != key_a
        assert {k: v["status"] for k, v in ram_keys(cloud.root, BOOTSTRAP_USER).items()} == {
            key_a: "Inactive", key_b: "Active"}

        answers(run("release-prod", "push"))  # key A is inactive: this is key B, from the pair

        run("rotate-keys", "schedule")  # next week: B is young; A, deactivated, goes
        assert {k: v["status"] for k, v in ram_keys(cloud.root, BOOTSTRAP_USER).items()} == {key_b: "Active"}
        assert platform.prod_pair() == pair_b

    assert not sentinels.leaks_in(outputs, allowed_prefix="::add-mask::")
