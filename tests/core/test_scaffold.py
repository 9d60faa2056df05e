"""What `agentrun-tasks init` plans to write, from nothing or from Serverless Devs files."""

from __future__ import annotations

import pytest

from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.scaffold import GITIGNORE, plan, source

DEV = {"edition": "3.0.0", "vars": {"region": "cn-beijing", "size": {"cpu": 0.5}},
       "resources": {"web": {"component": "fc3", "props": {}},
                     "bot": {"component": "agentrun@1.0.12", "props": {
                         "region": "${vars.region}",
                         "agent": {"name": "bot-${vars.region}", "cpu": "${vars.size.cpu}",
                                   "code": {"src": "./src", "language": "python3.12"},
                                   "environmentVariables": {"KEY": "${env(MODEL_KEY)}",
                                                            "MODE": "${env('MODE', 'fast')}"}}}}}}


def test_from_nothing_an_example_project_with_dev_prod_and_local():
    files = plan([], project="My App")
    assert set(files) == {"tasks.py", "envs/dev.yaml", "envs/prod.yaml", "envs/local.yaml", ".env.example",
                          "code/app.py", "code/requirements.txt", ".gitignore", "pyproject.toml",
                          "tests/test_agent_smoke.py"}
    assert "emulator: true" in files["envs/local.yaml"]
    assert '"My-App"' in files["envs/local.yaml"]
    assert "confirm: true" in files["envs/prod.yaml"]
    assert "allow_dotenv: false" in files["envs/prod.yaml"]
    assert "ALIYUN_ACCESS_KEY_ID_PROD" in files[".env.example"]
    assert files[".gitignore"].splitlines()[-len(GITIGNORE):] == list(GITIGNORE)


def test_existing_code_and_gitignore_entries_are_kept():
    files = plan([], project="x", code_exists=lambda src: True, gitignore="node_modules/\n.env\n")
    assert "code/app.py" not in files
    assert files[".gitignore"].startswith("node_modules/\n.env\n")
    assert files[".gitignore"].count(".env\n") == 1
    assert "gitignore" not in str(plan([], project="x", gitignore="\n".join(GITIGNORE)).keys())


@pytest.mark.parametrize(("spec", "env"), [("deploy/s.dev.yaml", "dev"), ("s.yaml", "dev"), ("s.yaml=staging", "staging"),
                                      ("s.prod.yaml#bot", "prod")])
def test_environment_names_come_from_the_file_name_or_the_spec(spec, env):
    assert source(spec, DEV).env == env
    assert source(spec, DEV).resource == "bot"


def test_import_keeps_the_s_yaml_as_the_one_description():
    files = plan([source("deploy/s.dev.yaml", DEV)], project="x")
    assert "s_yaml:\n  path: deploy/s.dev.yaml\n  resource: bot\n" in files["envs/dev.yaml"]
    assert "s_yaml:" in files["envs/local.yaml"]
    assert "emulator: true" in files["envs/local.yaml"]
    assert "deploy/src/app.py" in files  # code.src is relative to the s.yaml's folder
    assert "# MODEL_KEY=" in files[".env.example"]
    assert "# MODE=" in files[".env.example"]


def test_inline_replaces_vars_keeping_types_and_normalises_env():
    text = plan([source("s.dev.yaml", DEV)], project="x", inline=True)["envs/dev.yaml"]
    assert 'region: "cn-beijing"' in text
    assert 'name: "bot-cn-beijing"' in text
    assert "cpu: 0.5" in text
    assert "KEY: \"${env('MODEL_KEY')}\"" in text
    assert "MODE: \"${env('MODE', 'fast')}\"" in text
    assert 'src: "src"' in text


@pytest.mark.parametrize("value", ["${this.name}", "${config('AccountID')}", "${vars.nope}"])
def test_inline_refuses_what_an_env_file_cannot_hold(value):
    doc = {**DEV, "resources": {"bot": {"component": "agentrun", "props": {
        "region": "cn-hangzhou", "agent": {"name": value, "code": {"src": ".", "language": "python3.12"}}}}}}
    with pytest.raises(ConfigError):
        plan([source("s.yaml", doc)], project="x", inline=True)


@pytest.mark.parametrize(("specs", "message"), [
    (["s.yaml", "s.dev.yaml"], "same environment"),
    (["s.local.yaml"], "'local' is the emulator's"),
])
def test_bad_sets_of_files_are_refused(specs, message):
    with pytest.raises(ConfigError, match=message):
        plan([source(s, DEV) for s in specs], project="x")


def test_a_file_without_exactly_one_agentrun_resource_asks_which():
    two = {"resources": {"a": {"component": "agentrun"}, "b": {"component": "devsapp/agentrun"}}}
    with pytest.raises(ConfigError, match="several agentrun resources") as error:
        source("s.yaml", two)
    assert error.value.hint == "Name one with --from s.yaml#<resource>."
    with pytest.raises(ConfigError, match="no agentrun resource"):
        source("s.yaml", {"resources": {"web": {"component": "fc3"}}})


def test_a_project_gets_a_pinned_pyproject_with_a_test_extra_and_no_package():
    import tomllib

    from agentrun_tasks.core.scaffold import compatible

    files = plan([], project="demo app", pin=compatible("0.1.0"))
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["dependencies"] == ["agentrun-tasks>=0.1.0,<0.2"]
    assert project["project"]["optional-dependencies"]["test"] == ["pytest>=8,<10"]
    assert project["tool"]["setuptools"]["packages"] == []  # `pip install -e .` installs dependencies only
    assert project["project"]["name"] == "demo-app"
    assert "def test_" in files["tests/test_agent_smoke.py"]
    assert "pyproject.toml" not in plan([], project="demo", python_project=True)  # an existing one is kept


def test_compatible_ranges():
    from agentrun_tasks.core.scaffold import compatible

    assert [compatible(v) for v in ("0.1.0", "0.4.2", "1.0.0", "2.3.1")] == [
        ">=0.1.0,<0.2", ">=0.4.2,<0.5", ">=1.0.0,<2", ">=2.3.1,<3"]
