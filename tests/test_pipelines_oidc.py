"""The OIDC form of generated pipelines: only the jobs of OIDC environments get the token switch
and lose their AccessKey secrets; the files still pass the platforms' schemas and actionlint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from agentrun_tasks.core import pipelines
from agentrun_tasks.testing.pipeline_lint import lint

BUILTIN = {"github": ["github-workflows"], "gitlab": ["gitlab-ci", "--data-transform", "gitlab-ci"],
           "bitbucket": ["bitbucket-pipelines"]}
OPTIONS = pipelines.Options(oidc=("prod",))


def _doc(platform: str) -> tuple[pipelines.GeneratedFile, dict]:
    [file] = pipelines.render(platform, OPTIONS, pipelines.command_line(platform, OPTIONS))
    return file, YAML(typ="safe", pure=True).load(file.text)


def test_github_grants_id_token_to_prod_jobs_only_and_drops_their_keys():
    _, doc = _doc("github")
    assert doc["permissions"] == {"contents": "read"}
    jobs = doc["jobs"]
    for name in ("release-prod", "rollback", "promote", "rotate-keys"):
        assert jobs[name]["permissions"] == {"contents": "read", "id-token": "write"}, name
        assert not [k for k in jobs[name]["env"] if k.startswith("ALIYUN_ACCESS_KEY")], name
    for name in ("test", "deploy-dev", "preview"):
        assert "permissions" not in jobs[name], name
    assert {"ALIYUN_ACCESS_KEY_SECRET_DEV", "ALIYUN_ACCESS_KEY_PAIR_DEV"} <= set(jobs["deploy-dev"]["env"])


def test_gitlab_and_bitbucket_ask_for_the_token_on_prod_jobs_only():
    _, gitlab = _doc("gitlab")
    assert gitlab["release-prod"]["id_tokens"] == {"ALIBABA_CLOUD_OIDC_TOKEN": {"aud": "sts.aliyuncs.com"}}
    assert "id_tokens" not in gitlab["deploy-dev"]
    assert "id_tokens" not in gitlab["preview"]
    _file, bitbucket = _doc("bitbucket")
    steps = [s["step"] for group in bitbucket["pipelines"].values() for seq in
             (group.values() if isinstance(group, dict) else [group]) for s in seq if "step" in s]
    assert {s["name"]: s.get("oidc", False) for s in steps if s.get("deployment")} == {
        "deploy dev": False, "release prod": True, "preview": False, "rollback prod": True, "promote prod": True,
        "remove preview": False, "rotate keys": True}


@pytest.mark.parametrize("platform", sorted(BUILTIN))
def test_the_oidc_form_passes_the_schemas_and_lint(platform, tmp_path):
    file, doc = _doc(platform)
    assert lint(platform, doc, OPTIONS) == []
    path = tmp_path / file.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(file.text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", *BUILTIN[platform],
                           "--output-format", "json", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["status"] == "ok", proc.stdout + proc.stderr
    if platform == "github" and shutil.which("actionlint"):
        linted = subprocess.run(["actionlint", str(path)], capture_output=True, text=True, timeout=120)
        assert linted.returncode == 0, linted.stdout


def test_ci_init_reads_which_environments_use_oidc(tmp_path):
    from agentrun_tasks.core.pipelines import oidc_envs as _oidc_envs

    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "prod.yaml").write_text("credentials:\n  oidc: {role_arn: a, provider_arn: b}\n")
    (tmp_path / "envs" / "dev.yaml").write_text("credentials: {profile: dev}\n")
    (tmp_path / "envs" / "preview.yaml").write_text(": not yaml [")
    assert _oidc_envs(tmp_path) == ("prod",)
    assert _oidc_envs(Path(tmp_path / "nowhere")) == ()
