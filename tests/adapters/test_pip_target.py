"""pip --target for the cloud runtime, against a local wheel directory (no network), and the
builder putting the installed dependencies into the package."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from agentrun_tasks.adapters import pip_target
from agentrun_tasks.core import build as core
from agentrun_tasks.core.errors import ConfigError, ResourceFailedError
from agentrun_tasks.core.model import EnvConfig
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.flows.build import build_artifact

TARGET = core.target_for("python3.12")


def make_wheel(dest: Path, name: str, version: str = "1.0", tag: str = "py3-none-any") -> Path:
    """A minimal valid wheel, with one module and one console script.

    Written by hand because ``pip wheel`` of a project needs the ``wheel`` package or network
    access to fetch a build backend, neither of which a test may rely on.
    """
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\ndef main():\n    print(VERSION)\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n",
        f"{dist}/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    wheel = dest / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.fixture
def index(tmp_path) -> Path:
    """A find-links directory: a pure wheel, a Windows-only wheel and an sdist-only package."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "tinydep")
    make_wheel(wheels, "windep", tag="cp312-cp312-win_amd64")
    (wheels / "onlysdist-1.0.tar.gz").write_bytes(b"not needed: pip never opens an sdist here")
    return wheels


def offline_env(index: Path) -> dict[str, str]:
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index), "PIP_CONFIG_FILE": os.devnull}


def write_requirements(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    return path


def test_argv_targets_the_runtime_with_binary_wheels_only(tmp_path):
    argv = pip_target.pip_argv(tmp_path / "requirements.txt", tmp_path / "t", TARGET, python="python3")
    assert argv[:4] == ["python3", "-m", "pip", "install"]
    assert argv[argv.index("--python-version") + 1] == "3.12"
    assert argv[argv.index("--implementation") + 1] == "cp"
    assert argv[argv.index("--target") + 1] == str(tmp_path / "t")
    assert {"--only-binary=:all:", "--no-compile"} <= set(argv)
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--platform"] == list(core.PLATFORM_TAGS)
    assert argv[-2:] == ["-r", str(tmp_path / "requirements.txt")]


def test_installs_a_local_wheel_without_bytecode(tmp_path, index):
    req = write_requirements(tmp_path, "tinydep==1.0\n")
    pip_target.install(req, tmp_path / "out", TARGET, env=offline_env(index))
    assert (tmp_path / "out" / "tinydep" / "__init__.py").is_file()
    assert (tmp_path / "out" / "tinydep-1.0.dist-info" / "METADATA").is_file()
    assert not list((tmp_path / "out").rglob("*.pyc"))


@pytest.mark.parametrize("package", ["onlysdist", "windep"], ids=["sdist-only", "wrong-platform-wheel"])
def test_no_wheel_for_the_target_is_a_config_error_naming_the_package(tmp_path, index, package):
    req = write_requirements(tmp_path, f"tinydep==1.0\n{package}==1.0\n")
    with pytest.raises(ConfigError) as info:
        pip_target.install(req, tmp_path / "out", TARGET, env=offline_env(index))
    assert info.value.exit_code == 2
    assert f"'{package}'" in str(info.value)
    assert "python3.12" in str(info.value)
    assert "\n" not in str(info.value)  # one paragraph


def test_a_pin_that_does_not_exist_names_the_versions_there_are(tmp_path, index):
    req = write_requirements(tmp_path, "tinydep==9.9\n")
    with pytest.raises(ConfigError) as info:
        pip_target.install(req, tmp_path / "out", TARGET, env=offline_env(index))
    assert "'tinydep==9.9'" in str(info.value)
    assert "the versions that have one are: 1.0" in str(info.value)
    assert "no binary wheel" not in str(info.value)


@pytest.mark.parametrize(("stderr", "name"), [
    ("ERROR: Could not find a version that satisfies the requirement numpy==9.9 (from versions: none)\n"
     "ERROR: No matching distribution found for numpy==9.9\n", "numpy"),
    ("ERROR: No matching distribution found for Foo.Bar[extra]>=1\n", "Foo.Bar"),
    ("ERROR: ResolutionImpossible\n", None),
])
def test_missing_package_parsing(stderr, name):
    assert pip_target.missing_package(stderr) == name


def test_index_credentials_stay_out_of_argv_and_errors(tmp_path):
    sentinel = "SENTINEL-idx-token-7f3a9c"
    token = Secret(sentinel)
    req = write_requirements(tmp_path, "tinydep==1.0\n")
    env = {"PIP_INDEX_URL": f"http://user:{token.reveal()}@127.0.0.1:9/simple", "PIP_RETRIES": "1",
           "PIP_TIMEOUT": "2", "PIP_CONFIG_FILE": os.devnull}
    argv = pip_target.pip_argv(req, tmp_path / "out", TARGET)
    assert sentinel not in " ".join(argv)
    with pytest.raises(ResourceFailedError) as info:  # unreachable index: not "no wheel"
        pip_target.install(req, tmp_path / "out", TARGET, env=env)
    assert sentinel not in str(info.value)
    assert "Connection refused" in str(info.value)


def test_builder_packages_the_installed_dependencies(tmp_path, index, monkeypatch):
    for key, value in offline_env(index).items():
        monkeypatch.setenv(key, value)
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("import tinydep\n")
    (code / "requirements.txt").write_text("tinydep==1.0  # the one dependency\n")
    (tmp_path / "envs").mkdir()
    env = EnvConfig(name="dev", path=tmp_path / "envs" / "dev.yaml", region="cn-hangzhou", driver="openapi",
                    agent={"name": "a", "code": {"src": "code", "language": "python3.12"}})
    first = build_artifact(env, root=tmp_path)
    with zipfile.ZipFile(first.path) as zf:
        names = zf.namelist()
        script = zf.read("bin/tinydep")
    assert {"app.py", "requirements.txt", "tinydep/__init__.py", "tinydep-1.0.dist-info/METADATA"} <= set(names)
    assert not [n for n in names if n.endswith(".pyc")]
    assert script.startswith(b"#!/usr/bin/env python3\n")  # not this machine's interpreter path
    again = build_artifact(env, root=tmp_path, force=True)
    assert again.path.read_bytes() == first.path.read_bytes()
