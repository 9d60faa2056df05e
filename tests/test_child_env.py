"""Children get an allow-listed environment: the emulator daemon and the pip child never see
the CI's tokens or the cloud AccessKeys of the process that started them."""

from __future__ import annotations

import json
import sys

import psutil

from agentrun_tasks.adapters import pip_target
from agentrun_tasks.core.build import Target
from agentrun_tasks.core.childenv import allowed
from agentrun_tasks.emulator import lifecycle

SENTINELS = {"GITHUB_TOKEN": "ghs_SENTINELchildenv000000000001",
             "ALIYUN_ACCESS_KEY_SECRET_PROD": "SENTINELprodsecret0000000000002",
             "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIFAKESENTINEL0000003"}


def test_allowed_keeps_base_names_and_prefixes_only():
    environ = {"PATH": "/bin", "HOME": "/h", "PIP_INDEX_URL": "u", "GITHUB_TOKEN": "t", "AWS_SECRET": "x"}
    assert allowed(environ, prefixes=("PIP_",)) == {"PATH": "/bin", "HOME": "/h", "PIP_INDEX_URL": "u"}
    assert allowed(environ, names=("AWS_SECRET",)) == {"PATH": "/bin", "HOME": "/h", "AWS_SECRET": "x"}


def test_pip_child_sees_its_settings_but_no_tokens(tmp_path, monkeypatch):
    for name, value in SENTINELS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    dump = tmp_path / "env.json"
    fake_python = tmp_path / "python"  # stands in for the interpreter pip runs under: dumps its env
    fake_python.write_text(f"#!{sys.executable}\nimport json, os\n"
                           f"open({str(dump)!r}, 'w').write(json.dumps(dict(os.environ)))\n")
    fake_python.chmod(0o755)
    req = tmp_path / "requirements.txt"
    req.write_text("anything\n")
    target = Target(language="python3.12", python_version="3.12", platforms=("manylinux2014_x86_64",))
    pip_target.install(req, tmp_path / "out", target, env={"PIP_FIND_LINKS": "/wheels"}, python=str(fake_python))
    seen = json.loads(dump.read_text())
    assert not set(SENTINELS) & set(seen)
    assert seen["PIP_INDEX_URL"] == "http://127.0.0.1:9/simple"
    assert seen["HTTPS_PROXY"] == "http://127.0.0.1:9"
    assert seen["PIP_FIND_LINKS"] == "/wheels"
    assert seen["PATH"]


def test_emulator_daemon_gets_no_cloud_keys_nor_ci_tokens(tmp_path, monkeypatch):
    for name, value in SENTINELS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AGENTRUN_EMULATOR_FAULTS", "throttle=0")
    info = lifecycle.ensure_running(tmp_path, timeout=30)
    try:
        seen = psutil.Process(info.pid).environ()
    finally:
        lifecycle.stop(tmp_path)
    assert not set(SENTINELS) & set(seen), sorted(set(SENTINELS) & set(seen))
    assert seen["AGENTRUN_EMULATOR_FAULTS"] == "throttle=0"
    assert "PATH" in seen
