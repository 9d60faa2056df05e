"""Keyless CI: envs/prod.yaml assumes a role with the CI job's OIDC token (credentials.oidc);
`invoke ci.init` writes the OIDC form for GitHub and GitLab; the generated release-prod job's own
lines then run with exactly what each platform would give them (the job's env mapping over
repository secrets that hold no AccessKey, plus GitHub's ID-token endpoint, or the token in the
variable GitLab's id_tokens: names), and the release answers at the URL it printed. The
provider and role are registered through the official IMS and RAM clients on the embedded cloud
(emulator), with a local HTTPS issuer. No secret (OIDC token, STS secret) reaches any output.
The jobs' install step is left out (the migrate journey runs it): invoke is this checkout's."""

from __future__ import annotations

import os
import sys

from agentrun_tasks.emulator.state import State
from agentrun_tasks.testing.ci_jobs import github_environ, github_job, github_lines, gitlab_environ, gitlab_lines
from agentrun_tasks.testing.emulator import running_emulator
from agentrun_tasks.testing.oidc_issuer import oidc_issuer, register_federation
from agentrun_tasks.testing.project import clean_environ, cloud_env_file
from agentrun_tasks.testing.sentinels import Sentinels

from .ci_steps import GITLAB_CI, WORKFLOW, answers, run_job
from .conftest import ok

GITHUB_SUB, GITLAB_SUB = "repo:acme/agent:*", "project_path:acme/agent:ref_type:branch:ref:main"
KEY_NAMES = ("ALIYUN_ACCESS_KEY", "ALIBABA_CLOUD_ACCESS_KEY")


def test_keyless(project, tmp_path):
    sentinels, outputs = Sentinels(), {}
    with running_emulator(tmp_path / "cloud") as cloud, oidc_issuer(tmp_path) as issuer:
        role_arn, provider_arn = register_federation(cloud.openapi_config(), issuer, sub=[GITHUB_SUB, GITLAB_SUB])
        oidc = f"credentials:\n  oidc:\n    role_arn: {role_arn}\n    provider_arn: {provider_arn}\n"
        (project.root / "envs" / "prod.yaml").write_text(
            cloud_env_file(cloud.port, "keyless-journey", rest=oidc + cloud.state_bucket("journey-state")))
        for platform in ("github", "gitlab"):
            outputs[f"ci.init {platform}"] = project.invoke("ci.init", "--platform", platform, env=clean_environ())
            ok(outputs[f"ci.init {platform}"])

        # The OIDC form: the token on prod's jobs only, no AccessKey mapped there, nothing to rotate.
        workflow = (project.root / WORKFLOW).read_text()
        job = github_job(workflow, "release-prod")
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        assert not [name for name in job["env"] if name.startswith(KEY_NAMES)]
        for name in ("test", "deploy-dev", "preview"):
            assert "id-token" not in github_job(workflow, name)["permissions"], name
        for name in ("rollback", "promote"):
            assert github_job(workflow, name)["permissions"]["id-token"] == "write", name
        assert "invoke rotate-keys" not in workflow + (project.root / GITLAB_CI).read_text()

        # The repository's secrets: the account id, no AccessKey at all.
        held = {"ALIYUN_ACCOUNT_ID_PROD": cloud.account_id}
        sentinels.plant(issuer.request_token, "GitHub's ID-token request token")
        path = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
        (tmp_path / "github_output").touch()
        runner = clean_environ(CI="true", GITHUB_ACTIONS="true", GITHUB_EVENT_NAME="push", GITHUB_REF="refs/heads/main",
                               GITHUB_REF_NAME="main", GITHUB_REPOSITORY="acme/agent", GITHUB_RUN_ID="77",
                               GITHUB_SHA="b" * 40, GITHUB_OUTPUT=str(tmp_path / "github_output"),
                               SSL_CERT_FILE=str(issuer.ca_file), PATH=path)
        env = github_environ(job, secrets=held, base=runner, id_token=issuer.github_env())
        assert not [k for k, v in env.items() if k.startswith(KEY_NAMES) and v]
        answers(run_job(github_lines(job), project.root, env, "github release-prod", outputs))
        assert issuer.issued, "the release never asked GitHub's endpoint for a token"

        # GitLab: the token arrives in the variable id_tokens: names, for the audience it names.
        pipeline = (project.root / GITLAB_CI).read_text()
        gitlab_tokens: list[str] = []

        def gitlab_token(aud: str) -> str:
            gitlab_tokens.append(issuer.token(sub=GITLAB_SUB, aud=aud))
            return gitlab_tokens[-1]

        base = clean_environ(CI="true", GITLAB_CI="true", CI_PIPELINE_SOURCE="push", CI_COMMIT_BRANCH="main",
                             CI_COMMIT_REF_NAME="main", CI_PROJECT_PATH="acme/agent", CI_JOB_ID="91",
                             CI_PIPELINE_ID="90", CI_COMMIT_SHA="c" * 40, CI_PROJECT_DIR=str(project.root),
                             SSL_CERT_FILE=str(issuer.ca_file), PATH=path)
        env = gitlab_environ(pipeline, "release-prod", variables=held, base=base, id_token=gitlab_token)
        assert gitlab_tokens
        assert not [k for k, v in env.items() if k.startswith(KEY_NAMES) and v]
        answers(run_job(gitlab_lines(pipeline, "release-prod"), project.root, env, "gitlab release-prod", outputs))

        for token in (*(i["token"] for i in issuer.issued), *gitlab_tokens):
            sentinels.plant(token, "an OIDC token")
        for key in State(cloud.root).keys.values():
            if key.get("role"):
                sentinels.plant(key["secret"], "an STS secret of the role")
    assert len(sentinels.planted) > 3
    assert not sentinels.leaks_in(outputs, allowed_prefix="::add-mask::")
