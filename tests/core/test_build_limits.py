"""The code package's bounds: Function Compute 3.0's limits, checked before anything is read or
zipped, naming the biggest files; and file names that a package must not carry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentrun_tasks.core import build as core
from agentrun_tasks.core import package_files
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.model import EnvConfig
from agentrun_tasks.flows.build import build_artifact


def make_env(project: Path) -> EnvConfig:
    return EnvConfig(name="dev", path=project / "envs" / "dev.yaml", region="cn-hangzhou", driver="openapi",
                     agent={"name": "agent", "code": {"src": "code", "language": "nodejs20"}})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "code" / "data").mkdir(parents=True)
    (tmp_path / "envs").mkdir()
    (tmp_path / "code" / "app.js").write_text("console.log('hi')\n")
    return tmp_path


def built(project: Path) -> list[str]:
    folder = project / ".agentrun" / "build" / "dev"
    return sorted(p.name for p in folder.iterdir() if p.name != ".lock") if folder.is_dir() else []


def test_the_limits_are_function_computes():
    assert (core.MAX_ZIPPED, core.MAX_UNZIPPED) == (500 * 1024**2, 10 * 1024**3)


def test_a_sparse_11_gib_file_is_refused_unread_naming_the_biggest_files(project):
    with open(project / "code" / "data" / "huge.bin", "wb") as fh:
        fh.truncate(11 * 1024**3)  # sparse: no disk used, 11 GiB to anything that reads it
    (project / "code" / "data" / "model.pt").write_bytes(b"w" * 3000)
    with pytest.raises(ConfigError) as info:
        build_artifact(make_env(project), root=project)
    message = str(info.value)
    assert message.startswith("the code package would unpack to 11.0 GiB, over the 10.0 GiB an AgentRun instance")
    assert "'data/huge.bin' (11.0 GiB), 'data/model.pt' (2.9 KiB), 'app.js' (18 bytes)" in message
    assert message.endswith("Nothing was built.")
    assert built(project) == []


def test_a_package_over_the_zipped_limit_is_refused_and_removed(project, monkeypatch):
    (project / "code" / "data" / "noise.bin").write_bytes(os.urandom(64 * 1024))  # does not compress
    monkeypatch.setattr(core, "MAX_ZIPPED", 32 * 1024)
    with pytest.raises(ConfigError, match=r"the code package is 64\.\d KiB zipped, over the 32\.0 KiB Function "
                                          r"Compute accepts .* the biggest files are 'data/noise.bin' \(64\.0 KiB\)"):
        build_artifact(make_env(project), root=project)
    assert built(project) == []  # neither a zip nor a manifest that a later build would reuse


def test_a_package_within_the_limits_builds(project):
    (project / "code" / "data" / "table.csv").write_text("a,b\n" * 1000)
    artifact = build_artifact(make_env(project), root=project)
    assert artifact.file_count == 2
    assert built(project) == [f"{artifact.inputs_hash}.json", artifact.path.name]


def test_the_biggest_files_come_first_and_only_three():
    files = [package_files.SourceFile(name, name, 0o644, size)
             for name, size in (("a", 1), ("b", 6 * 1024**3), ("c", 5 * 1024**3), ("d", 2048), ("e", 4096))]
    with pytest.raises(ConfigError) as info:
        core.check_unzipped(files)
    assert "the biggest files are 'b' (6.0 GiB), 'c' (5.0 GiB), 'e' (4.0 KiB). List" in str(info.value)
    core.check_unzipped(files[2:])  # 5 GiB and change: within the limit


@pytest.mark.parametrize("name", ["evil\nname.py", "tab\there.py", "bell\x07.py", "esc\x1b[31m.py", "del\x7f.py"],
                         ids=["newline", "tab", "bell", "escape", "delete"])
def test_a_file_name_with_a_control_character_is_refused(tmp_path, name):
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / name).write_text("x = 2\n")
    with pytest.raises(ConfigError) as info:
        package_files.select_files(tmp_path)
    assert repr(name) in str(info.value)
    assert "control character" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_folder_name_with_a_newline_is_refused_and_an_ignored_one_left_out(tmp_path):
    (tmp_path / "bad\ndir").mkdir()
    (tmp_path / "bad\ndir" / "x.py").write_text("x = 1\n")
    (tmp_path / "ok.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match=r"'bad\\ndir/x.py'"):
        package_files.select_files(tmp_path)
    rules = package_files.IgnoreRules(["bad*/"])
    assert [f.arcname for f in package_files.select_files(tmp_path, rules)] == ["ok.py"]
