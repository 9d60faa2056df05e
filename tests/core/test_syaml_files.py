"""What an imported s.yaml's ``${file()}``/``${path()}`` may read, and ``vars`` that refer to each
other: stricter than ``s``, so an s.yaml cannot copy a dotenv file, ``.agentrun/`` or any file of
the machine into the runtime's settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentrun_tasks.core.config import load_env
from agentrun_tasks.core.errors import ConfigError

SENTINEL = "SENTINELsyamlfiles0000000001"
S_YAML = """\
edition: 3.0.0
name: app
vars:
{vars}
resources:
  chat:
    component: agentrun
    props:
      region: cn-hangzhou
      agent:
        name: demo
        code: {{src: ./code, language: python3.12, command: [python3, app.py]}}
        environmentVariables:
          PROMPT: {value}
"""


def project(tmp_path: Path, value: str, *, vars: str = "  stage: dev", allow: str = "") -> Path:
    """project/{.env.local, envs/dev.yaml, deploy/s.yaml (PROMPT: value), deploy/prompt.txt, shared/}."""
    root = tmp_path / "project"
    for folder in ("envs", "deploy/code", "shared", "other", ".agentrun/local"):
        (root / folder).mkdir(parents=True)
    (root / ".env.local").write_text(f"ALIYUN_ACCESS_KEY_SECRET_DEV={SENTINEL}\n")
    (root / "other" / ".env.local").write_text(f"TOKEN={SENTINEL}\n")
    (root / ".agentrun" / "local" / "emulator.env").write_text(f"KEY={SENTINEL}\n")
    (root / "deploy" / ".env.prod").write_text(f"TOKEN={SENTINEL}\n")
    (root / "deploy" / "prompt.txt").write_text("be brief")
    (root / "shared" / "prompt.txt").write_text("shared prompt")
    (root / "deploy" / "s.yaml").write_text(S_YAML.format(vars=vars, value=value))
    env = "s_yaml:\n  path: deploy/s.yaml\n" + (f"  allow_paths: {allow}\n" if allow else "")
    (root / "envs" / "dev.yaml").write_text(env)
    return root


def prompt(root: Path) -> str:
    return load_env("dev", root=root, environ={}).agent["environmentVariables"]["PROMPT"]


HOSTILE = [
    ("${file('../.env.local')}", "project/.env.local", "outside the s.yaml's folder"),
    ("${file('/proc/self/environ')}", "/proc/", "outside the s.yaml's folder"),
    ("${file('/etc/passwd')}", "/etc/passwd", "outside the s.yaml's folder"),
    ("${file('../sub/../../other/.env.local')}", "/other/.env.local", "outside the s.yaml's folder"),
    ("${file('./code/../../.env.local')}", "project/.env.local", "outside the s.yaml's folder"),
    ("${path('../../..')}", "reaches /", "outside the s.yaml's folder"),
    ("${path('..')}", "project", "outside the s.yaml's folder"),
    ("${file('.env.prod')}", "deploy/.env.prod", "the dotenv file .env.prod"),
    ("${file('./code/../.env.prod')}", "deploy/.env.prod", "the dotenv file .env.prod"),
    ("${path('.env.prod')}", "deploy/.env.prod", "the dotenv file .env.prod"),
]


@pytest.mark.parametrize(("value", "path", "why"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_file_outside_the_folder_or_private_is_refused_naming_function_and_path(tmp_path, value, path, why):
    root = project(tmp_path, value)
    with pytest.raises(ConfigError) as info:
        prompt(root)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in message
    assert message.startswith("deploy/s.yaml, line 14: resources.chat.props.agent.environmentVariables.PROMPT:")
    assert value in message, message
    assert path in message, message
    assert why in message, message
    assert SENTINEL not in message


def test_a_link_beside_the_s_yaml_is_followed_before_the_check(tmp_path):
    root = project(tmp_path, "${file('./innocent.txt')}")
    os.symlink("../.env.local", root / "deploy" / "innocent.txt")
    with pytest.raises(ConfigError, match=r"innocent.txt'\)\} reaches .*project/\.env\.local, outside"):
        prompt(root)


def test_agentrun_and_dotenv_beside_an_s_yaml_at_the_project_root_are_refused(tmp_path):
    root = project(tmp_path, "x")
    (root / "envs" / "dev.yaml").write_text("s_yaml: {path: s.yaml, allow_paths: [shared]}\n")
    for value, why in (("${file('.agentrun/local/emulator.env')}", "inside the .agentrun folder"),
                       ("${file('./deploy/state/local/emulator.env')}", "inside the .agentrun folder"),
                       ("${file('.env.local')}", "inside the dotenv file .env.local"),
                       ("${file('shared/.env')}", "inside the dotenv file .env")):
        (root / "s.yaml").write_text(S_YAML.format(vars="  stage: dev", value=value))
        if not (root / "deploy" / "state").is_symlink():
            os.symlink("../.agentrun", root / "deploy" / "state")
            (root / "shared" / ".env").write_text(f"T={SENTINEL}\n")
        with pytest.raises(ConfigError, match=why) as info:
            prompt(root)
        assert SENTINEL not in str(info.value)


def test_an_opt_in_may_name_a_dotenv_file_itself(tmp_path):
    root = project(tmp_path, "${file('../.env.local')}", allow="[.env.local]")
    assert prompt(root).strip() == f"ALIYUN_ACCESS_KEY_SECRET_DEV={SENTINEL}"


def test_the_s_yaml_folder_itself_and_its_files_are_read(tmp_path):
    root = project(tmp_path, "${file('./prompt.txt')} in ${path('.')}")
    assert prompt(root) == f"be brief in {root / 'deploy'}"


def test_the_env_file_opts_in_for_a_named_path(tmp_path):
    root = project(tmp_path, "${file('../shared/prompt.txt')}", allow="[shared/prompt.txt]")
    assert prompt(root) == "shared prompt"


def test_an_opt_in_names_one_path_not_its_neighbours(tmp_path):
    root = project(tmp_path, "${file('../.env.local')}", allow="[shared/prompt.txt]")
    with pytest.raises(ConfigError, match=r"outside the s.yaml's folder") as info:
        prompt(root)
    assert "s_yaml.allow_paths" in str(info.value)
    assert SENTINEL not in str(info.value)


def test_an_opt_in_folder_covers_what_is_inside_it(tmp_path):
    root = project(tmp_path, "${file('../shared/prompt.txt')}", allow="[shared]")
    assert prompt(root) == "shared prompt"


def test_allow_paths_must_be_a_list_of_strings(tmp_path):
    root = project(tmp_path, "x", allow="shared")
    with pytest.raises(ConfigError, match="allow_paths"):
        prompt(root)


@pytest.mark.parametrize("vars", [
    "  a: '${vars.b}'\n  b: '${vars.a}'",
    "  a: '${vars.a}'",
    "  a: '${vars.b}'\n  b: '${vars.c}'\n  c: '${vars.a}'",
], ids=["pair", "self", "triangle"])
def test_vars_that_refer_to_each_other_are_refused(tmp_path, vars):
    root = project(tmp_path, "${vars.a}", vars=vars)
    with pytest.raises(ConfigError, match=r"line \d+: .*PROMPT: the value of \$\{vars\.a\} still holds a variable after "
                                          r"resolving: its variables refer to each other in a loop"):
        prompt(root)


def test_a_chain_that_s_resolves_still_resolves(tmp_path):
    """s compiles vars twice, then each resource's props twice: a four-link chain ends in its value."""
    root = project(tmp_path, "${vars.c}", vars="  c: '${vars.d}'\n  d: '${vars.e}'\n  e: '${vars.f}'\n  f: x")
    assert prompt(root) == "x"
