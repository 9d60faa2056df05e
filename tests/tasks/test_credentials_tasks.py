"""credentials.show and credentials.set, run as real ``invoke`` processes in a scratch project."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentrun_tasks.adapters.keyring_store import KeyStore
from agentrun_tasks.testing.keyring import FileKeyring, file_keyring_env

AGENT = "agent:\n  name: demo\n  code: {src: code, language: python3.12, command: [python3, app.py]}\n"
ID, SECRET = "LTAIFAKEtask00000000id42", "FAKEtasksecret0000000000000077"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A consumer project: tasks.py importing the library, envs/, code/, a private keyring dir."""
    root = tmp_path / "proj"
    (root / "envs").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "keyring").mkdir()
    (root / "tasks.py").write_text("from agentrun_tasks.tasks import ns  # noqa: F401\n")
    (root / "envs" / "prod.yaml").write_text("region: cn-hangzhou\n" + AGENT)
    (root / "envs" / "dev.yaml").write_text("region: cn-hangzhou\n" + AGENT)
    (root / "envs" / "local.yaml").write_text("region: cn-hangzhou\nemulator: true\n" + AGENT)
    return root


def clean_env(project: Path, **extra: str) -> dict[str, str]:
    """No inherited credentials, CI variables or invoke config: only what the test gives."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(project), "LANG": "C.UTF-8"}
    env.update(file_keyring_env(project / "keyring"))
    env.update(extra)
    return env


def invoke(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=project, env=env or clean_env(project),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_show_json_masked_with_sources(project):
    env = clean_env(project, ALIYUN_ACCESS_KEY_ID_PROD=ID, ALIYUN_ACCESS_KEY_SECRET_PROD=SECRET, ALIYUN_ACCOUNT_ID_PROD="1234567890")
    r = invoke(project, "credentials.show", "--env", "prod", "--json", env=env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["found"] is True
    assert data["env"] == "prod"
    assert (data["access_key_id"], data["access_key_secret"]) == ("LTAI****id42", "****0077")
    assert data["account_id"] == "1234567890"
    assert data["sources"] == {"access_key_id": "env ALIYUN_ACCESS_KEY_ID_PROD",
                               "access_key_secret": "env ALIYUN_ACCESS_KEY_SECRET_PROD",
                               "account_id": "env ALIYUN_ACCOUNT_ID_PROD"}
    assert ID not in r.stdout + r.stderr
    assert SECRET not in r.stdout + r.stderr


def test_show_missing_exits_3_and_lists_what_was_tried(project):
    (project / ".env.prod").write_text(f"ALIYUN_ACCESS_KEY_ID_PROD={ID}\nALIYUN_ACCESS_KEY_SECRET_PROD={SECRET}\n")
    r = invoke(project, "credentials.show", "--env", "prod", "--json")
    assert r.returncode == 3
    data = json.loads(r.stdout)
    assert data["found"] is False
    assert [t["source"] for t in data["tried"]] == ["argument", "env", ".env.prod", ".env", "keyring agentrun-tasks/prod"]
    assert "ALIYUN_ACCESS_KEY_SECRET_PROD + " not in r.stdout  # names are listed as pairs
    assert "ALIYUN_ACCESS_KEY_ID_PROD + ALIYUN_ACCESS_KEY_SECRET_PROD" in data["tried"][1]["names"]
    assert "allow_dotenv is false" in data["tried"][2]["note"]  # prod never reads .env by default
    assert r.stderr.startswith("error: No credentials for environment 'prod'")
    assert "Traceback" not in r.stderr
    assert ID not in r.stdout + r.stderr
    assert SECRET not in r.stdout + r.stderr


def test_show_reads_the_keyring_and_warns_about_a_readable_dotenv(project):
    KeyStore(FileKeyring(project / "keyring")).set("dev", {"access_key_id": ID, "access_key_secret": SECRET})
    (project / ".env").write_text("UNRELATED=1\n")
    (project / ".env").chmod(0o644)
    r = invoke(project, "credentials.show", "--env", "dev")
    assert r.returncode == 0, r.stderr
    assert "keyring agentrun-tasks/dev" in r.stdout
    assert "LTAI****id42" in r.stdout
    assert "readable by group/other (mode 0644)" in r.stderr
    assert ID not in r.stdout + r.stderr
    assert SECRET not in r.stdout + r.stderr


def test_set_refuses_without_a_terminal(project):
    r = invoke(project, "credentials.set", "--env", "dev")
    assert r.returncode == 2
    assert "needs a terminal" in r.stderr
    assert "nothing was stored" in r.stderr
    assert not (project / "keyring" / "keyring.json").exists()


def run_in_pty(project: Path, args: list[str], answers: list[tuple[str, str]], env: dict[str, str]) -> tuple[int, str]:
    """Run invoke on a pseudo-terminal, typing each answer after its prompt appears."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=project, env=env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    seen = ""
    try:
        for prompt, answer in answers:
            seen = _read_until(master, seen, prompt, proc)
            os.write(master, answer.encode() + b"\n")
        proc.wait(timeout=60)
        seen = _read_until(master, seen, None, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, seen


def _read_until(fd: int, seen: str, wanted: str | None, proc) -> str:
    deadline = time.monotonic() + 60  # a guard against a hung child, not a timing assertion
    while (wanted is None or wanted not in seen) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            if wanted is None or proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
    if wanted is not None and wanted not in seen:
        raise AssertionError(f"prompt {wanted!r} never appeared; output so far: {seen!r}")
    return seen


def test_set_stores_in_keyring_without_echo(project):
    answers = [("AccessKey ID: ", ID), ("AccessKey secret: ", SECRET), ("Account ID", "1234567890")]
    rc, output = run_in_pty(project, ["credentials.set", "--env", "dev"], answers, clean_env(project))
    assert rc == 0, output
    assert ID not in output
    assert SECRET not in output
    assert "1234567890" not in output
    assert "Stored LTAI****id42 in keyring agentrun-tasks/dev" in output
    assert KeyStore(FileKeyring(project / "keyring")).get("dev") == {
        "access_key_id": ID, "access_key_secret": SECRET, "account_id": "1234567890"}
    assert (project / "keyring" / "keyring.json").stat().st_mode & 0o077 == 0
    shown = json.loads(invoke(project, "credentials.show", "--env", "dev", "--json").stdout)
    assert shown["sources"]["access_key_id"] == "keyring agentrun-tasks/dev"


def test_set_says_when_an_environment_variable_wins(project):
    env = clean_env(project, ALIYUN_ACCESS_KEY_ID_DEV="LTAIFAKEshadow000000", ALIYUN_ACCESS_KEY_SECRET_DEV="FAKEshadowsecret0000")
    answers = [("AccessKey ID: ", ID), ("AccessKey secret: ", SECRET), ("Account ID", "")]
    rc, output = run_in_pty(project, ["credentials.set", "--env", "dev"], answers, env)
    assert rc == 0, output
    assert "env ALIYUN_ACCESS_KEY_ID_DEV takes precedence over the keyring entry" in output
    assert KeyStore(FileKeyring(project / "keyring")).get("dev") == {"access_key_id": ID, "access_key_secret": SECRET}


def test_set_rejects_an_empty_secret(project):
    rc, output = run_in_pty(project, ["credentials.set", "--env", "dev"],
                            [("AccessKey ID: ", ID), ("AccessKey secret: ", "")], clean_env(project))
    assert rc == 2
    assert "nothing was stored" in output
    assert not (project / "keyring" / "keyring.json").exists()


def test_set_checks_the_keyring_before_asking(project):
    env = clean_env(project, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    rc, output = run_in_pty(project, ["credentials.set", "--env", "dev"], [], env)
    assert rc == 2, output
    assert "AccessKey ID" not in output  # no secret is typed for a keyring that keeps nothing
    assert "keyring.backends.null" in output
    assert "Traceback" not in output


def test_set_end_of_input_at_a_prompt_exits_2_without_traceback(project):
    rc, output = run_in_pty(project, ["credentials.set", "--env", "dev"], [("AccessKey ID: ", "\x04")],
                            clean_env(project))
    assert rc == 2, output
    assert "end of input" in output
    assert "nothing was stored" in output
    assert "Traceback" not in output
    assert not (project / "keyring" / "keyring.json").exists()


def test_missing_credentials_is_one_short_paragraph_with_the_next_step(project):
    env = clean_env(project, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    r = invoke(project, "credentials.show", "--env", "prod", env=env)
    assert r.returncode == 3
    error = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, r.stderr
    assert len(error[0]) < 400, r.stderr
    assert error[0].count("Next:") == 1
    assert "ALIYUN_ACCESS_KEY_ID_PROD" in error[0]
    assert "ALIYUN_ACCESS_KEY_PAIR_PROD=<id>:<secret>" in error[0]  # what the CI sinks write
    assert r.stderr.count("No recommended backend") == 1  # the keyring's warning once, not twice
    assert "https://pypi.org/projec" not in r.stderr.replace("https://pypi.org/project/", "")  # never cut mid-URL
