"""An s.yaml import through real ``invoke`` processes: ``${config(...)}`` reads the environment's
credentials (never printed), missing credentials exit 3, and a YAML alias bomb exits 2 at once."""

from __future__ import annotations

import time
from pathlib import Path

from agentrun_tasks.testing.project import Project, clean_environ

REPO = Path(__file__).resolve().parents[2]
SECRET = "SENTINEL-syaml-secret-8c7b6a5f4e"
S_YAML = (REPO / "tests" / "fixtures" / "syaml" / "uses-config.yaml").read_text()


def make(tmp_path: Path) -> Project:
    project = Project.copy(REPO, tmp_path / "project")
    (project.root / "s.dev.yaml").write_text(S_YAML)
    (project.root / "envs" / "dev.yaml").write_text("s_yaml: {path: s.dev.yaml}\n")
    return project


def test_config_fields_come_from_the_credentials_and_never_show(tmp_path):
    project = make(tmp_path)
    env = clean_environ(ALIYUN_ACCESS_KEY_ID_DEV="LTAIFAKESENTINELsyaml01", ALIYUN_ACCESS_KEY_SECRET_DEV=SECRET,
                        ALIYUN_ACCOUNT_ID_DEV="1234567890123456")
    proc = project.invoke("credentials.show", "--env", "dev", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


def test_config_without_credentials_exits_3(tmp_path):
    proc = make(tmp_path).invoke("credentials.show", "--env", "dev", env=clean_environ())
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_alias_bomb_exits_2_at_once(tmp_path):
    project = make(tmp_path)
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (project.root / "envs" / "dev.yaml").write_text("\n".join(lines) + "\nregion: cn-hangzhou\n")
    started = time.monotonic()
    proc = project.invoke("deploy", "--env", "dev", timeout=60)
    assert proc.returncode == 2
    assert "expands to more than" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 30  # the process, with imports; the refusal itself takes ~20 ms
