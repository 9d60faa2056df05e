"""Importing an existing Serverless Devs s.yaml instead of an inline agent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentrun_tasks.core import secrets
from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.syaml import is_agentrun

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config" / "syaml"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root holding the fixture s.yaml files and an empty envs/."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURES, root)
    (root / "envs").mkdir()
    return root


def env_file(root: Path, body: str, name: str = "dev") -> str:
    (root / "envs" / f"{name}.yaml").write_text(body, encoding="utf-8")
    return name


def test_imports_region_and_agent_with_variables(project):
    name = env_file(project, "s_yaml: {path: s.dev.yaml}\n")
    cfg = load_env(name, root=project, environ={"DEPLOYER": "ci"})
    assert cfg.region == "cn-hangzhou"
    assert cfg.agent["name"] == "example-agent-dev"  # ${vars.agent_name} holding ${env('STAGE', 'dev')}
    assert cfg.agent["description"] == "deployed by ci"
    assert cfg.agent["cpu"] == 0.5  # a whole-value ${vars.cpu} keeps its number type
    assert cfg.agent["environmentVariables"] == {"MODEL_API_KEY": "none"}
    assert cfg.s_yaml == project / "s.dev.yaml"
    assert cfg.s_yaml_resource == "example-agent"
    assert cfg.credentials.profile == "dev"


def test_env_file_vars_override_syaml_vars_and_env_wins_over_default(project):
    name = env_file(project, "s_yaml:\n  path: s.dev.yaml\n  vars: {cpu: 4, region: cn-beijing}\n")
    cfg = load_env(name, root=project, environ={"DEPLOYER": "ci", "STAGE": "qa"})
    assert (cfg.region, cfg.agent["cpu"], cfg.agent["name"]) == ("cn-beijing", 4.0, "example-agent-qa")


def test_env_file_region_wins_over_props_region(project):
    name = env_file(project, "region: cn-shenzhen\ns_yaml: {path: s.dev.yaml}\n")
    assert load_env(name, root=project, environ={"DEPLOYER": "ci"}).region == "cn-shenzhen"


def test_code_src_resolves_from_the_syaml_folder(project):
    name = env_file(project, "s_yaml: {path: deploy/s.prod.yaml}\n", name="prod")
    cfg = load_env(name, root=project, environ={})
    assert cfg.code_dir == (project / "code").resolve()
    assert cfg.region == "cn-shanghai"
    assert cfg.agent["vpcConfig"]["vSwitchIds"] == ["vsw-1", "vsw-2"]
    assert cfg.agent["logConfig"] == "auto"
    assert cfg.credentials.allow_dotenv is False  # prod's default


def test_chosen_resource_among_several(project):
    name = env_file(project, "s_yaml: {path: s.two-agents.yaml, resource: search}\n")
    cfg = load_env(name, root=project, environ={})
    assert (cfg.agent_name, cfg.region) == ("search", "cn-beijing")


def test_secret_from_env_is_masked_in_everything_printed(project):
    sentinel = "sk-SENTINEL-7f3a9c2e51"
    name = env_file(project, "s_yaml: {path: s.dev.yaml}\n")
    cfg = load_env(name, root=project, environ={"DEPLOYER": "ci", "MODEL_API_KEY": sentinel})
    assert cfg.agent["environmentVariables"]["MODEL_API_KEY"] == sentinel  # the API still gets it
    assert sentinel not in secrets.redact(repr(cfg))


def test_secret_through_env_file_vars_is_masked(project):
    sentinel = "sk-SENTINEL-env-file-vars-51aa"
    text = (project / "s.dev.yaml").read_text().replace("${env('MODEL_API_KEY', 'none')}", "${vars.key}")
    (project / "s.dev.yaml").write_text(text)
    name = env_file(project, "s_yaml:\n  path: s.dev.yaml\n  vars:\n    key: ${env('MODEL_KEY')}\n")
    cfg = load_env(name, root=project, environ={"DEPLOYER": "ci", "MODEL_KEY": sentinel})
    assert cfg.agent["environmentVariables"]["MODEL_API_KEY"] == sentinel
    assert sentinel not in secrets.redact(repr(cfg))


def test_secret_through_a_var_is_masked_too(project):
    sentinel = "sk-SENTINEL-via-vars-0b6e"
    text = (project / "s.dev.yaml").read_text().replace(
        "  cpu: 0.5\n", "  cpu: 0.5\n  key: ${env('MODEL_KEY')}\n").replace(
        "${env('MODEL_API_KEY', 'none')}", "${vars.key}")
    (project / "s.dev.yaml").write_text(text)
    name = env_file(project, "s_yaml: {path: s.dev.yaml}\n")
    cfg = load_env(name, root=project, environ={"DEPLOYER": "ci", "MODEL_KEY": sentinel})
    assert cfg.agent["environmentVariables"]["MODEL_API_KEY"] == sentinel
    assert sentinel not in secrets.redact(repr(cfg))


@pytest.mark.parametrize(
    ("body", "environ", "expected"),
    [
        pytest.param("s_yaml: {path: s.fc3-only.yaml}\n", {},
                     ["s.fc3-only.yaml", "resources", "no resource whose component is agentrun",
                      "website (fc3)", "static (fc3-domain)"], id="no-agentrun-resource"),
        pytest.param("s_yaml: {path: s.two-agents.yaml}\n", {},
                     ["s.two-agents.yaml", "several agentrun resources: chat, search", "s_yaml.resource"],
                     id="several-without-resource"),
        pytest.param("s_yaml: {path: s.two-agents.yaml, resource: chatt}\n", {},
                     ["no agentrun resource named 'chatt'", "chat (agentrun)"], id="unknown-resource"),
        pytest.param("s_yaml: {path: s.dev.yaml}\n", {},
                     ["s.dev.yaml, line 18", "resources.example-agent.props.agent.description", "DEPLOYER",
                      "Set DEPLOYER in the environment"], id="missing-env-variable"),
        pytest.param("s_yaml: {path: s.typo.yaml}\n", {},
                     ["s.typo.yaml, line 11", "resources.agent.props.agent.memroy", "Did you mean 'memory'?"],
                     id="unknown-agent-key"),
        pytest.param("s_yaml: {path: s.missing.yaml}\n", {}, ["s.missing.yaml", "does not exist"], id="missing-file"),
        pytest.param("s_yaml: {path: s.dev.yaml, vars: {cpu: 99}}\n", {"DEPLOYER": "x"},
                     ["s.dev.yaml, line 25", "props.agent.cpu", "out of range"], id="var-out-of-range"),
        pytest.param("s_yaml: {path: s.dev.yaml}\nagent: {name: x, code: {src: code, language: python3.12}}\n",
                     {"DEPLOYER": "x"}, ["envs/dev.yaml", "exactly one of agent"], id="agent-and-s_yaml"),
        pytest.param("s_yaml: {paht: s.dev.yaml}\n", {}, ["envs/dev.yaml, line 1", "s_yaml.paht",
                     "Did you mean 'path'?"], id="misspelled-s_yaml-key"),
    ],
)
def test_bad_imports(project, body, environ, expected):
    name = env_file(project, body)
    with pytest.raises(ConfigError) as info:
        load_env(name, root=project, environ=environ)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize(("component", "expected"), [
    ("agentrun", True), ("agentrun@1.0.12", True), ("devsapp/agentrun", True), ("devsapp/agentrun@dev", True),
    ("fc3", False), ("agentrun-helper", False), ("my/agentrun", False), (None, False),
])
def test_is_agentrun(component, expected):
    assert is_agentrun(component) is expected


CONFIG_SYAML = (Path(__file__).resolve().parents[1] / "fixtures" / "syaml" / "uses-config.yaml").read_text()


def test_config_reads_the_environments_credentials_lazily_and_masks_them(project):
    from agentrun_tasks.core.credentials import Credentials
    from agentrun_tasks.core.svars import access_fields

    sentinel = "SENTINEL-config-secret-5d4c3b2a"
    (project / "s.config.yaml").write_text(CONFIG_SYAML)
    asked = []

    def access(env):
        asked.append((env.name, env.credentials.profile))
        return access_fields(Credentials(secrets.Secret("LTAI5tSENTINELid"), secrets.Secret(sentinel), None,
                                         "1234567890123456", sources={}))

    cfg = load_env(env_file(project, "s_yaml: {path: s.config.yaml}\ncredentials: {profile: team}\n"), root=project,
                   environ={}, access=access)
    assert asked == [("dev", "team")]  # once, with the env file's credentials settings
    assert cfg.agent["role"] == "acs:ram::1234567890123456:role/agent"
    assert cfg.agent["environmentVariables"]["ACCESS_KEY_SECRET"] == sentinel
    assert sentinel not in secrets.redact(repr(cfg))
    load_env(env_file(project, "s_yaml: {path: s.dev.yaml}\n"), root=project, environ={"DEPLOYER": "x"}, access=access)
    assert len(asked) == 1  # an s.yaml without config() never resolves credentials


def test_config_without_credentials_is_a_clear_error(project):
    (project / "s.config.yaml").write_text(CONFIG_SYAML)
    with pytest.raises(ConfigError, match=r"s.config.yaml, line 11: resources.agent.props.agent.role: "
                                          r"\$\{config\('AccountID'\)\} needs the environment's credentials"):
        load_env(env_file(project, "s_yaml: {path: s.config.yaml}\n"), root=project, environ={})
