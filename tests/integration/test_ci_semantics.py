"""Identical semantics on every platform: under each platform's recorded variables for the same
scenario (push to develop, push to main, PR/MR, feature branch, tag, schedule), the real
``invoke ci.env`` process makes the same decision (environment, protection, prompt) for the
command the generated pipeline runs there, and one ``invoke deploy`` per platform against the
emulator writes the same outputs through that platform's own mechanism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun_tasks.testing.project import clean_environ

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cienv"

# scenario -> (the env the branch map chooses, the --env the generated pipeline passes there)
SCENARIOS = {"develop": ("dev", "dev"), "main": ("prod", "prod"), "pr": ("preview", "preview"),
             "feature": ("preview", "preview"), "tag": ("prod", "prod"), "schedule": ("prod", "prod")}
RECORDED = {
    "github": {"develop": "github-push-develop", "main": "github-push-main", "pr": "github-pr",
               "feature": "github-push-feature", "tag": "github-tag", "schedule": "github-schedule"},
    "gitlab": {"develop": "gitlab-branch", "main": "gitlab-push-main", "pr": "gitlab-mr",
               "feature": "gitlab-push-feature", "tag": "gitlab-tag", "schedule": "gitlab-schedule"},
    "jenkins": {"develop": "jenkins-push-develop", "main": "jenkins-branch", "pr": "jenkins-pr",
                "feature": "jenkins-push-feature", "tag": "jenkins-tag", "schedule": "jenkins-schedule"},
    "bitbucket": {"develop": "bitbucket-branch", "main": "bitbucket-push-main", "pr": "bitbucket-pr",
                  "feature": "bitbucket-push-feature", "tag": "bitbucket-tag", "schedule": "bitbucket-schedule"},
    "circleci": {"develop": "circleci-push-develop", "main": "circleci-push-main", "pr": "circleci-pr",
                 "feature": "circleci-push-feature", "tag": "circleci-tag", "schedule": "circleci-schedule"},
    # Yunxiao documents no MR variables: an MR run is a run on its source branch ("feature").
    "yunxiao": {"develop": "yunxiao-push-develop", "main": "yunxiao-push-main", "feature": "yunxiao-push-feature",
                "tag": "yunxiao-tag", "schedule": "yunxiao-schedule"},
}
CASES = [(p, s) for p, scenarios in RECORDED.items() for s in scenarios]


def recorded(name: str, tmp_path: Path) -> dict:
    case = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    environ = dict(case["environ"])
    if "event" in case:
        event = tmp_path / "event.json"
        event.write_text(json.dumps(case["event"]), encoding="utf-8")
        environ["GITHUB_EVENT_PATH"] = str(event)
    return environ


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A project whose .git holds tag v1.4.0: Yunxiao's ref variable names a branch or a tag, and
    only the checkout tells which (as on a Flow runner, which clones the ref it builds)."""
    from agentrun_tasks.testing.project import Project

    root = tmp_path_factory.mktemp("semantics") / "project"
    Project.copy(Path(__file__).resolve().parents[2], root)
    git = root / ".git"
    (git / "refs" / "tags").mkdir(parents=True)
    (git / "refs" / "heads").mkdir(parents=True)
    sha = "2bfb63d779e3648c91950f82d374a25784cdabaf"
    (git / "HEAD").write_text(sha + "\n")
    (git / "refs" / "tags" / "v1.4.0").write_text(sha + "\n")
    return root


def ci_env(project_root: Path, environ: dict, *args: str) -> dict:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "invoke", "ci.env", "--json", *args], cwd=project_root,
                          env=clean_environ(**environ), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def decision(data: dict) -> tuple:
    protection = data["protection"] or {}
    return data["env"], protection.get("allowed"), protection.get("detail", "").split(":")[0]


@pytest.mark.parametrize(("platform", "scenario"), CASES, ids=[f"{p}-{s}" for p, s in CASES])
def test_the_same_command_makes_the_same_decision(platform, scenario, checkout, tmp_path):
    mapped, passed = SCENARIOS[scenario]
    environ = recorded(RECORDED[platform][scenario], tmp_path)
    chosen = ci_env(checkout, environ)
    assert chosen["platform"] == platform
    assert chosen["env"] == mapped, chosen["reason"]
    # The command the generated pipeline runs in this scenario is allowed, and never prompts in CI.
    assert decision(ci_env(checkout, environ, "--env", passed)) == (passed, True, "allowed")
    if passed != "prod":  # production refuses a PR/MR or a feature branch whatever the platform
        assert decision(ci_env(checkout, environ, "--env", "prod")) == ("prod", False, "refused")


OUTPUTS = {  # where each platform's dialect puts deploy's outputs: (variable naming the file, parse)
    "github": "GITHUB_OUTPUT", "bitbucket": "BITBUCKET_PIPELINES_VARIABLES_PATH", "circleci": "BASH_ENV",
    "gitlab": "AGENTRUN_OUTPUT_FILE", "jenkins": "AGENTRUN_OUTPUT_FILE", "yunxiao": "AGENTRUN_OUTPUT_FILE",
}


def _outputs(text: str) -> dict:
    pairs = (line.removeprefix("export ").split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.lower(): v.strip('"') for k, v in pairs}


def test_one_deploy_per_platform_gives_the_same_result_and_outputs(project):
    results = {}
    for platform, variable in OUTPUTS.items():
        out = project.root / f"{platform}.outputs"
        environ = recorded(RECORDED[platform]["develop"], project.root)
        env = clean_environ(**environ, **{variable: str(out)})
        proc = project.invoke("deploy", "--env", "local", "--json", env=env)
        assert proc.returncode == 0, (platform, proc.stderr)
        data = json.loads(proc.stdout)
        runtime = data.get("runtime") or {}
        decided = {"url": data.get("url"), "version": data.get("version"),
                   "runtime": {k: runtime.get(k) for k in ("id", "name", "status")}}
        results[platform] = (decided, _outputs(out.read_text()))
    first = next(iter(results.values()))
    assert {"endpoint_url", "runtime_id"} <= set(first[1]), first[1]
    for platform, result in results.items():
        assert result == first, platform


# -- the generated pipelines, evaluated as each platform decides which jobs run -------------------
from agentrun_tasks.core import pipelines  # noqa: E402
from agentrun_tasks.core.pipelines import model  # noqa: E402
from agentrun_tasks.testing import pipeline_eval as pe  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ORDER = ["github", "gitlab", "jenkins", "bitbucket", "circleci", "yunxiao"]
PROD_JOBS = {"release-prod", "rollback", "promote", "rotate-keys"}


def generated(platform: str, options: pipelines.Options | None = None) -> dict[str, str]:
    options = options or pipelines.Options()
    return {f.path: f.text for f in pipelines.render(platform, options, pipelines.command_line(platform, options))}


def contract_table() -> dict[str, dict[str, str]]:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    block = text.split("<!-- contract:start -->")[1].split("<!-- contract:end -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.strip().splitlines()]
    assert rows[0] == ["event", *ORDER], rows[0]
    return {row[0]: dict(zip(ORDER, row[1:])) for row in rows[2:]}


def test_every_cell_of_the_contract_table_is_what_the_generated_file_runs():
    table = contract_table()
    assert list(table) == list(pe.EVENTS)
    files = {platform: generated(platform) for platform in ORDER}
    wrong = [(event, platform, expected, pe.cell(pe.jobs(platform, files[platform], pe.EVENTS[event])))
             for event, row in table.items() for platform, expected in row.items()
             if pe.cell(pe.jobs(platform, files[platform], pe.EVENTS[event])) != expected]
    assert not wrong, wrong


def test_gitlab_deploy_branches_with_an_open_mr_deploy_and_mr_pipelines_never_touch_prod():
    files = generated("gitlab")
    assert pe.jobs("gitlab", files, pe.Event("push", "develop", mr_open=True))["deploy-dev"] == ""
    assert pe.jobs("gitlab", files, pe.Event("push", "hotfix/x", mr_open=True))["release-prod"] == "approval"
    assert pe.jobs("gitlab", files, pe.Event("push", "main", mr_open=True))["release-prod"] == "approval"
    for ref in ("feature/x", "develop", "hotfix/x", "main", "master"):
        mr = pe.jobs("gitlab", files, pe.Event("mr", ref))
        assert "test" in mr, (ref, mr)
        assert not set(mr) & PROD_JOBS, (ref, mr)
    # A feature branch with an open MR runs one pipeline (the MR's), not two.
    assert pe.jobs("gitlab", files, pe.Event("push", "feature/x", mr_open=True)) == {}
    # The evaluator fails the workflow this replaced: open MR -> no branch pipeline -> no deploy.
    doc = pe.load(files[".gitlab-ci.yml"])
    old = [r for r in doc["workflow"]["rules"] if "develop" not in r.get("if", "")]
    doc["workflow"]["rules"] = old
    broken = {".gitlab-ci.yml": model.dump_yaml(doc)}
    assert pe.jobs("gitlab", broken, pe.Event("push", "develop", mr_open=True)) == {}
    assert "deploy-dev" in pe.jobs("gitlab", broken, pe.Event("push", "develop"))


@pytest.mark.parametrize(("expression", "variables", "expected"), [
    ('$A == "x"', {"A": "x"}, True),
    ('$A == "x"', {}, False),
    ('$A != "x"', {}, True),
    ("$A", {"A": ""}, False),
    ("$A =~ /^hotfix\\//", {"A": "hotfix/1"}, True),
    ("$A =~ /^hotfix\\//", {"A": "feature/1"}, False),
    ('$A || $B && $C', {"A": "1"}, True),  # && binds tighter than ||
    ('($A || $B) && $C', {"A": "1"}, False),
    ('$CI_COMMIT_TAG =~ /^v[0-9]/', {"CI_COMMIT_TAG": "vnext"}, False),
])
def test_gitlab_expressions_follow_gitlabs_rules(expression, variables, expected):
    assert pe.gitlab_if(expression, variables) is expected


@pytest.mark.parametrize(("expression", "expected"), [
    ("github.event_name == 'push' && github.ref == 'refs/heads/develop'", True),
    ("github.event_name == 'PUSH'", True),  # GitHub compares strings ignoring case
    ("startsWith(github.ref, 'refs/tags/v')", False),
    ("github.event_name == 'pull_request' || (github.event_name == 'push' && !startsWith(github.ref, 'refs/tags/'))",
     True),
])
def test_github_expressions_follow_githubs_rules(expression, expected):
    context = {"github.event_name": "push", "github.ref": "refs/heads/develop"}
    assert pe.github_if(expression, context) is expected


def test_expressions_the_evaluators_cannot_read_raise():
    with pytest.raises(ValueError, match="cannot read ' ## comment'"):
        pe.gitlab_if('$A == "x" ## comment', {})
    with pytest.raises(ValueError, match="cannot read \" =~ 'x'\""):
        pe.github_if("github.ref =~ 'x'", {})


def test_no_github_prod_job_can_lose_its_pending_run_and_the_cache_keeps_its_wheels():
    doc = pe.load(generated("github")[".github/workflows/agentrun.yml"])
    prod = {name: job for name, job in doc["jobs"].items() if pe.environment(job) in ("prod", "prod-rotation")}
    assert set(prod) == {"release-prod", "rollback", "promote", "rotate-keys"}
    for name, job in prod.items():
        assert job["concurrency"] == {"group": "prod", "cancel-in-progress": False, "queue": "max"}, name
    for name, job in doc["jobs"].items():
        (setup,) = [s for s in job["steps"] if s.get("uses", "").startswith("astral-sh/setup-uv")]
        assert setup["with"]["prune-cache"] is False
        assert setup["with"]["enable-cache"] is True
        install = next(s["run"] for s in job["steps"] if s.get("name") == "install")
        assert f"-r {setup['with']['cache-dependency-glob']} " in install, name  # the cache is keyed on what it installs


def test_github_release_by_hand_is_tested_first_on_any_plan():
    files = generated("github")
    assert pe.jobs("github", files, pe.Event("manual", "main", action="release")) == {
        "test": "", "release-prod": "approval"}
    # Without automatic releases (the fallback for plans without required reviewers) a push releases nothing.
    options = pipelines.Options(kinds=("test", "dev", "preview", "manual", "rotate"))
    assert pe.jobs("github", generated("github", options), pe.Event("push", "main")) == {"test": ""}


def test_no_yunxiao_pipeline_rejects_a_new_run():
    for path, text in generated("yunxiao").items():
        config = pe.load(text)["concurrencyConfig"]
        assert config == {"maxRunningJobInstances": 1}, path
        assert "rejectNew" not in text
        assert "preemptOldest" not in text


def test_one_release_tag_rule_everywhere():
    for platform in ORDER:
        files = generated(platform)
        for tag, released in (("v1.2.3", True), ("v2", True), ("vnext", False), ("1.2.3", False), ("nightly", False)):
            ran = pe.jobs(platform, files, pe.Event("tag", tag))
            assert ("release-prod" in ran) is released, (platform, tag, ran)


def _job_installs(platform: str, files: dict[str, str]) -> dict[str, str]:
    """Each job's install command (the text that names a lock file), by canonical job name."""
    out: dict[str, str] = {}
    if platform == "github":
        for name, job in pe.load(files[".github/workflows/agentrun.yml"])["jobs"].items():
            out[pe.canonical(name)] = next(s["run"] for s in job["steps"] if s.get("name") == "install")
    elif platform == "gitlab":
        doc = pe.load(files[".gitlab-ci.yml"])
        for name, job in doc.items():
            if isinstance(job, dict) and "script" in job:
                out[pe.canonical(name)] = "\n".join(job.get("before_script", doc["default"]["before_script"]))
    elif platform == "bitbucket":
        from agentrun_tasks.testing.pipeline_lint import _bitbucket_steps

        for _, step in _bitbucket_steps(pe.load(files["bitbucket-pipelines.yml"])):
            out[pe.canonical(step["name"])] = "\n".join(step["script"])
    elif platform == "circleci":
        doc = pe.load(files[".circleci/config.yml"])
        for name, job in doc["jobs"].items():
            command = doc["commands"][job["steps"][0]]
            out[pe.canonical(name)] = next(s["run"]["command"] for s in command["steps"]
                                           if isinstance(s, dict) and "run" in s)
    elif platform == "yunxiao":
        for text in files.values():
            for stage in pe.load(text)["stages"].values():
                for jid, job in stage["jobs"].items():
                    if "steps" in job:
                        out[pe.canonical(jid)] = job["steps"]["install"]["with"]["run"]
    elif platform == "jenkins":
        from agentrun_tasks.testing import jenkinsfile
        stages = jenkinsfile.parse(files["Jenkinsfile"]).child("pipeline").child("stages").children
        text = files["Jenkinsfile"]
        install = text[text.index("stage('Install')"):text.index("stage('Test')")]
        test = text[text.index("stage('Test')"):text.index("stage('Deploy dev')")]
        for stage in stages[1:]:
            name = stage.head.split("'")[1]
            out[pe.canonical(name)] = install + (test if name == "Test" else "")
    return out


@pytest.mark.parametrize("platform", ORDER)
def test_deploy_release_rollback_and_rotate_jobs_install_no_test_tools(platform):
    installs = _job_installs(platform, generated(platform))
    assert {"test", "deploy-dev", "release-prod", "rollback", "rotate-keys"} <= set(installs), installs
    for job, text in installs.items():
        assert "--no-deps -e ." in text, (job, text)
        assert "--compile-bytecode" not in text, (job, text)
        if job == "test":
            assert f"-r {model.TEST_LOCK} " in text, text
        else:
            assert f"-r {model.RUNTIME_LOCK} " in text, (job, text)
            assert model.TEST_LOCK not in text, (job, text)


def test_gitlab_ci_local_creates_the_jobs_the_evaluator_reads(tmp_path):
    """gitlab-ci-local (run by .ci/run, which caches it) agrees with pipeline_eval's GitLab reading
    on every GitLab event of the table, and catches the workflow this issue replaced."""
    from agentrun_tasks.testing import gitlab_ci_local

    tool = gitlab_ci_local.binary()
    if not tool.exists():
        pytest.skip(f"gitlab-ci-local {gitlab_ci_local.VERSION} is not cached (.ci/run installs it)")
    text = generated("gitlab")[".gitlab-ci.yml"]
    for name, event in pe.EVENTS.items():
        if event.kind == "mr_closed":
            continue
        theirs = gitlab_ci_local.jobs(tool, text, event, tmp_path)
        ours = pe.jobs("gitlab", {".gitlab-ci.yml": text}, event)
        assert {pe.canonical(j) for j in theirs or {}} == set(ours), (name, theirs, ours)
    doc = pe.load(text)
    doc["workflow"]["rules"] = [r for r in doc["workflow"]["rules"] if "develop" not in r.get("if", "")]
    assert gitlab_ci_local.jobs(tool, model.dump_yaml(doc), pe.Event("push", "develop", mr_open=True), tmp_path) is None
