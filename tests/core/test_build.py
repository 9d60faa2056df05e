"""The deterministic package: selection, hashing, zip bytes, CRC-64 and the build cache."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from agentrun_tasks.core import build as core
from agentrun_tasks.core import package_files
from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.model import EnvConfig
from agentrun_tasks.flows.build import KEEP_ARTIFACTS, build_artifact


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


AGENT = {
    "app.py": "print('hello')\n",
    "lib/util.py": "X = 1\n" * 50,
    "lib/data.json": '{"a": 1}\n',
    "run.sh": "#!/bin/sh\nexec python app.py\n",
    "requirements.txt": "# standard library only\n",
}


def make_env(project: Path, language: str | None = "python3.12", name: str = "dev") -> EnvConfig:
    code = {"src": "code"} | ({"language": language} if language else {})
    return EnvConfig(name=name, path=project / "envs" / f"{name}.yaml", region="cn-hangzhou",
                     driver="openapi", agent={"name": "agent", "code": code})


@pytest.fixture
def project(tmp_path) -> Path:
    make_tree(tmp_path / "code", AGENT)
    os.chmod(tmp_path / "code" / "run.sh", 0o750)
    (tmp_path / "envs").mkdir()
    return tmp_path


# -- CRC-64 ------------------------------------------------------------------------------------
def test_crc64_check_value():
    assert core.crc64(b"123456789") == 0x995DC9BBDF1939FA


def test_crc64_continues_across_chunks_and_file_digest_is_decimal(tmp_path):
    data = os.urandom(3 * core.READ_CHUNK + 17)
    assert core.crc64(data[1000:], core.crc64(data[:1000])) == core.crc64(data)
    (tmp_path / "f").write_bytes(data)
    sha, crc, size = core.file_digests(tmp_path / "f")
    assert crc == str(core.crc64(data))
    assert size == len(data)
    assert sha == __import__("hashlib").sha256(data).hexdigest()


# -- selection ---------------------------------------------------------------------------------
IGNORE_CASES = [
    # patterns, path, is_dir, ignored
    (["*.log"], "a/b/x.log", False, True),
    (["*.log"], "x.logs", False, False),
    (["/build"], "build", True, True),
    (["/build"], "src/build", True, False),
    (["build/"], "src/build", True, True),
    (["build/"], "src/build", False, False),
    (["docs/*.md"], "docs/a.md", False, True),
    (["docs/*.md"], "docs/sub/a.md", False, False),
    (["docs/**/*.md"], "docs/sub/deep/a.md", False, True),
    (["**/tmp"], "a/b/tmp", True, True),
    (["data/**"], "data/x/y.bin", False, True),
    (["*.txt", "!keep.txt"], "keep.txt", False, False),
    (["*.txt", "!keep.txt"], "other.txt", False, True),
    (["file?.py"], "file1.py", False, True),
    (["file[!0-9].py"], "file1.py", False, False),
    (["# comment", "", "  "], "# comment", False, False),
]


@pytest.mark.parametrize(("patterns", "path", "is_dir", "ignored"), IGNORE_CASES,
                         ids=[f"{'|'.join(c[0])}~{c[1]}" for c in IGNORE_CASES])
def test_ignore_rules(patterns, path, is_dir, ignored):
    assert package_files.IgnoreRules(patterns).ignored(path, is_dir) is ignored


def test_default_exclusions_and_agentrunignore(tmp_path):
    make_tree(tmp_path, {
        "app.py": "x", "pkg/__pycache__/m.cpython-311.pyc": "x", "pkg/m.pyc": "x", "pkg/m.py": "x",
        ".git/HEAD": "x", ".venv/bin/python": "x", ".env": "S=1", ".env.local": "S=2",
        ".DS_Store": "x", "sub/.DS_Store": "x", ".agentrun/build/dev/old.zip": "x",
        "notes/todo.md": "x", "tests/test_app.py": "x", "tests/fixture.json": "x",
        ".agentrunignore": "# local only\nnotes/\n/tests/*\n!/tests/fixture.json\n",
    })
    names = [f.arcname for f in package_files.select_files(tmp_path, package_files.IgnoreRules.for_dir(tmp_path))]
    assert names == ["app.py", "pkg/m.py", "tests/fixture.json"]


def test_modes_are_normalised(tmp_path):
    make_tree(tmp_path, {"a.sh": "x", "b.py": "x"})
    os.chmod(tmp_path / "a.sh", 0o700)
    os.chmod(tmp_path / "b.py", 0o600)
    assert {f.arcname: f.mode for f in package_files.select_files(tmp_path)} == {"a.sh": 0o755, "b.py": 0o644}


def test_requirement_lines_skip_comments_and_blanks():
    text = "# header\n\nrequests==2.32.3  # pinned\n  numpy>=2\n"
    assert core.requirement_lines(text) == ["requests==2.32.3", "numpy>=2"]


# -- hashing and zip bytes ---------------------------------------------------------------------
def test_inputs_hash_covers_content_mode_name_requirements_and_target(tmp_path):
    make_tree(tmp_path, {"a.py": "1", "b.py": "2"})
    files = package_files.select_files(tmp_path)
    t312, t310 = core.target_for("python3.12"), core.target_for("python3.10")
    base = core.inputs_hash(files, "requests==2\n", t312)
    assert core.inputs_hash(files, "# comment\nrequests==2", t312) == base
    assert core.inputs_hash(files, "requests==3\n", t312) != base
    assert core.inputs_hash(files, "requests==2\n", t310) != base
    renamed = [package_files.SourceFile("c.py", files[0].path, files[0].mode), files[1]]
    assert core.inputs_hash(renamed, "requests==2\n", t312) != base
    chmodded = [package_files.SourceFile("a.py", files[0].path, 0o755), files[1]]
    assert core.inputs_hash(chmodded, "requests==2\n", t312) != base
    (tmp_path / "a.py").write_text("changed")
    assert core.inputs_hash(files, "requests==2\n", t312) != base


def test_zip_is_byte_identical_across_copies_mtimes_and_umask(tmp_path):
    one = make_tree(tmp_path / "one", AGENT)
    two = tmp_path / "elsewhere" / "two"
    shutil.copytree(one, two)
    os.utime(two / "app.py", (1_000_000_000, 1_000_000_000))
    os.chmod(two / "lib" / "util.py", 0o600)  # another umask: still a non-executable file
    core.write_zip(package_files.select_files(one), tmp_path / "one.zip")
    core.write_zip(package_files.select_files(two), tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_zip_entries_sorted_fixed_time_and_mode(tmp_path):
    tree = make_tree(tmp_path / "t", AGENT)
    os.chmod(tree / "run.sh", 0o700)
    count = core.write_zip(package_files.select_files(tree), tmp_path / "p.zip")
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        infos = zf.infolist()
        assert zf.testzip() is None
        assert zf.read("lib/util.py") == AGENT["lib/util.py"].encode()
    assert count == len(infos) == len(AGENT)
    assert [i.filename for i in infos] == sorted(AGENT)
    assert {i.date_time for i in infos} == {core.ZIP_TIME}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    assert {i.filename: (i.external_attr >> 16) & 0o7777 for i in infos}["run.sh"] == 0o755
    assert {(i.external_attr >> 16) & 0o7777 for i in infos if i.filename != "run.sh"} == {0o644}


def test_later_file_with_same_name_wins(tmp_path):
    make_tree(tmp_path, {"dep/util.py": "dependency", "code/util.py": "agent"})
    files = [package_files.SourceFile("util.py", tmp_path / "dep/util.py", 0o644),
             package_files.SourceFile("util.py", tmp_path / "code/util.py", 0o644)]
    assert core.write_zip(files, tmp_path / "p.zip") == 1
    assert zipfile.ZipFile(tmp_path / "p.zip").read("util.py") == b"agent"


def test_unknown_language_is_a_config_error():
    with pytest.raises(ConfigError, match=r"python3.12"):
        core.target_for("python2.7")


# -- the build cache ---------------------------------------------------------------------------
def test_two_builds_are_byte_identical(project, tmp_path_factory):
    first = build_artifact(make_env(project), root=project)
    other = tmp_path_factory.mktemp("clone")
    shutil.copytree(project / "code", other / "code")
    (other / "envs").mkdir()
    second = build_artifact(make_env(other), root=other)
    assert first.path != second.path
    assert first.path.read_bytes() == second.path.read_bytes()
    assert (first.sha256, first.crc64, first.inputs_hash) == (second.sha256, second.crc64, second.inputs_hash)


def test_unchanged_inputs_reuse_force_rebuilds_and_a_change_rebuilds(project):
    env = make_env(project)
    built = build_artifact(env, root=project)
    assert not built.reused
    assert built.path == project / ".agentrun/build/dev" / f"{built.inputs_hash}.zip"
    assert built.file_count == len(AGENT)
    assert built.size == built.path.stat().st_size
    sha, crc, _ = core.file_digests(built.path)
    assert (built.sha256, built.crc64) == (sha, crc)

    os.utime(project / "code" / "app.py", (1_000_000_000, 1_000_000_000))  # touch alone: no rebuild
    reused = build_artifact(env, root=project)
    assert reused.reused
    assert (reused.path, reused.sha256, reused.crc64) == (built.path, built.sha256, built.crc64)

    forced = build_artifact(env, root=project, force=True)
    assert not forced.reused
    assert forced.path.read_bytes() == built.path.read_bytes()

    with open(project / "code" / "app.py", "a") as fh:
        fh.write("print('one more line')\n")
    changed = build_artifact(env, root=project)
    assert not changed.reused
    assert changed.inputs_hash != built.inputs_hash
    assert b"one more line" in zipfile.ZipFile(changed.path).read("app.py")


def test_damaged_artifact_is_rebuilt(project):
    env = make_env(project)
    built = build_artifact(env, root=project)
    good = built.path.read_bytes()
    built.path.write_bytes(good[:100])
    again = build_artifact(env, root=project)
    assert not again.reused
    assert again.path.read_bytes() == good


def test_old_artifacts_are_pruned(project):
    env = make_env(project)
    digests = []
    for i in range(KEEP_ARTIFACTS + 2):
        (project / "code" / "app.py").write_text(f"print({i})\n")
        digests.append(build_artifact(env, root=project).inputs_hash)
    left = {p.stem for p in (project / ".agentrun/build/dev").glob("*.zip")}
    assert left == set(digests[-KEEP_ARTIFACTS:])
    assert left == {p.stem for p in (project / ".agentrun/build/dev").glob("*.json")}


def test_working_folders_of_killed_builds_are_removed(project):
    env = make_env(project)
    build_artifact(env, root=project)
    leftover = project / ".agentrun/build/dev/tmp-killed"
    (leftover / "deps").mkdir(parents=True)
    (leftover / "deps" / "big.bin").write_bytes(b"x" * 1024)
    assert build_artifact(env, root=project).reused
    assert not leftover.exists()


def test_node_code_is_packaged_as_is_without_pip(project, monkeypatch):
    # Were pip called, this requirement could not be found with no index.
    (project / "code" / "requirements.txt").write_text("no-such-package-anywhere==1.0\n")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    artifact = build_artifact(make_env(project, language="nodejs20"), root=project)
    assert artifact.file_count == len(AGENT)


def test_missing_code_dir_is_a_config_error(tmp_path):
    (tmp_path / "envs").mkdir()
    with pytest.raises(ConfigError, match=r"agent.code.src"):
        build_artifact(make_env(tmp_path), root=tmp_path)


def test_language_defaults_to_python312(project):
    assert build_artifact(make_env(project, language=None), root=project).inputs_hash == \
        build_artifact(make_env(project, language="python3.12"), root=project).inputs_hash


def test_links_inside_the_code_folder_are_packaged_links_out_of_it_refused(tmp_path):
    code = tmp_path / "code"
    (code / "lib").mkdir(parents=True)
    (code / "lib" / "real.py").write_text("x = 1\n")
    os.symlink("lib/real.py", code / "alias.py")
    os.mkfifo(code / "pipe")  # a special file: left out, never opened
    assert [f.arcname for f in package_files.select_files(code)] == ["alias.py", "lib/real.py"]
    (tmp_path / ".env.local").write_text("SECRET=1\n")
    os.symlink("../.env.local", code / "creds")
    with pytest.raises(ConfigError, match=r"creds in the code folder is a symbolic link to .*\.env\.local"):
        package_files.select_files(code)
    assert [f.arcname for f in package_files.select_files(code, package_files.IgnoreRules(["creds"]))] == ["alias.py", "lib/real.py"]


def test_a_bad_ignore_pattern_is_a_config_error():
    with pytest.raises(ConfigError, match=r"\.agentrunignore: the pattern '\*\*/\[z-a\]' is not valid"):
        package_files.IgnoreRules(["**/[z-a]"])
