"""No task ever prints a credential: a distinct sentinel is planted in every credential source
(environment variables, .env.<env>, .env, the keyring) and every task that exists is run as a
real ``invoke`` process; no sentinel (nor the part of it a mask hides) may appear in stdout,
stderr or error text.

Tasks are enumerated with ``invoke --list --list-format json``, so tasks added later are covered
without editing this file: a read-only task - one whose own name is in READ_ONLY - runs for
real (with and without ``--json`` when it takes it), any other task runs with ``--help``. They
run against environments whose control plane is a closed port on 127.0.0.1, so tasks that talk
to AgentRun resolve the credentials, sign a request and then fail: error paths are where SDK
messages carrying a key id would surface.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agentrun_tasks.adapters.keyring_store import KeyStore
from agentrun_tasks.testing.keyring import FileKeyring, file_keyring_env
from agentrun_tasks.testing.sentinels import Sentinels

READ_ONLY = {"show", "list", "get", "env", "info", "status"}
AGENT = "agent:\n  name: demo\n  code: {src: code, language: python3.12, command: [python3, app.py]}\n"
# One environment per source, for the run where each source is the one actually used.
BY_SOURCE = {"env": "dev", "env-file": "stage", "dotenv": "qa", "keyring": "test"}
PROFILES = (*BY_SOURCE.values(), "prod", "local")
GENERIC = ["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
           "ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET"]
FIELDS = ("access_key_id", "access_key_secret", "security_token")


def specific(profile: str) -> list[str]:
    s = profile.upper()
    return [f"ALIYUN_ACCESS_KEY_ID_{s}", f"ALIYUN_ACCESS_KEY_SECRET_{s}", f"ALIYUN_SECURITY_TOKEN_{s}"]


@pytest.fixture
def closed_port():
    """A port bound but never listening: connections are refused, and nobody else can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def make_project(root: Path, port: int) -> dict[str, str]:
    """A consumer project with one env file per profile; returns the base process environment."""
    (root / "envs").mkdir(parents=True)
    (root / "code").mkdir()
    (root / "keyring").mkdir()
    (root / "tasks.py").write_text("from agentrun_tasks.tasks import ns  # noqa: F401\n")
    remote = f"control_endpoint: 127.0.0.1:{port}\nprotocol: http\nretry: {{attempts: 1}}\n"
    for profile in PROFILES:
        kind = "emulator: true\n" if profile == "local" else remote
        (root / "envs" / f"{profile}.yaml").write_text("region: cn-hangzhou\n" + kind + AGENT)
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "LANG": "C.UTF-8",
            # Anything that tries the network anyway meets a dead proxy, not the internet.
            "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost",
            **file_keyring_env(root / "keyring")}


def plant(root: Path, env: dict[str, str], sentinels: Sentinels, where: dict[str, list[str]], keyring: tuple[str, ...]) -> None:
    """Plant the variable names ``where[source]`` in each source and keyring entries for ``keyring``."""
    env.update({n: sentinels.new(f"env {n}") for n in where.get("env", ())})
    for source, filenames in (("env-file", [f".env.{p}" for p in PROFILES]), ("dotenv", [".env"])):
        for filename in filenames if where.get(source) else ():
            lines = [f"{n}={sentinels.new(f'{filename} {n}')}" for n in where[source]]
            (root / filename).write_text("\n".join(lines) + "\n")
            (root / filename).chmod(0o600)
    store = KeyStore(FileKeyring(root / "keyring"))
    for profile in keyring:
        store.set(profile, {f: sentinels.new(f"keyring {profile} {f}") for f in FIELDS})


def run(root: Path, env: dict[str, str], *args: str) -> tuple[tuple[str, ...], subprocess.CompletedProcess]:
    proc = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    return args, proc


def run_all(root: Path, env: dict[str, str], commands: list[tuple[str, ...]]):
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores are shared by everyone
        return list(pool.map(lambda a: run(root, env, *a), commands))


def list_tasks(root: Path, env: dict[str, str]) -> tuple[list[str], list[str]]:
    """(read-only tasks, other tasks), from ``invoke --list --list-format json``."""
    _, proc = run(root, env, "--list", "--list-format", "json")
    assert proc.returncode == 0, proc.stderr

    def walk(coll: dict, prefix: str) -> list[str]:
        found = [prefix + t["name"] for t in coll["tasks"]]
        for sub in coll["collections"]:
            found += walk(sub, f"{prefix}{sub['name']}.")
        return found

    names = walk(json.loads(proc.stdout), "")
    assert {"credentials.show", "credentials.set", "ci.env"} <= set(names)
    read_only = [n for n in names if n.rsplit(".", 1)[-1] in READ_ONLY]
    return read_only, [n for n in names if n not in read_only]


def takes_json(task: str) -> bool:
    """Whether the task has a ``--json`` flag (read from the collection the project composes)."""
    from agentrun_tasks.tasks import ns

    return any("json" in arg.names for arg in ns[task].get_arguments())


def read_runs(tasks: list[str], env_name: str, both: bool) -> list[tuple[str, ...]]:
    runs = []
    for task in tasks:
        json_flag = takes_json(task)
        if json_flag:
            runs.append((task, "--env", env_name, "--json"))
        if both or not json_flag:
            runs.append((task, "--env", env_name))
    return runs


def assert_no_leaks(results, sentinels: Sentinels, allowed_prefix: str | None = None) -> None:
    problems = []
    for args, proc in results:
        for stream, text in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            lines = text.splitlines()
            if allowed_prefix:  # the CI mask command is the one line that must carry the value
                lines = [line for line in lines if not line.startswith(allowed_prefix)]
            for where in sentinels.leaks("\n".join(lines)):
                problems.append(f"invoke {' '.join(args)} ({stream}, rc={proc.returncode}) printed the sentinel from {where}")
    assert not problems, "\n".join(problems)


def shown_source(results, env_name: str) -> str:
    doc = next(p.stdout for a, p in results if a == ("credentials.show", "--env", env_name, "--json"))
    return json.loads(doc)["sources"]["access_key_id"]


def test_every_source_planted_every_task(tmp_path, closed_port):
    """Every name in every source; read tasks both ways, the rest with --help, plus error paths."""
    root = tmp_path / "proj"
    env = make_project(root, closed_port)
    sentinels = Sentinels()
    every = GENERIC + [n for p in PROFILES for n in specific(p)]
    plant(root, env, sentinels, {"env": every, "env-file": every, "dotenv": every}, keyring=PROFILES)
    read_only, others = list_tasks(root, env)
    commands = [(t, "--help") for t in others] + read_runs(read_only, "dev", both=True) + [
        ("credentials.show", "--env", "prod", "--json"),
        ("credentials.show", "--env", "local"),
        ("credentials.show", "--env", "no-such-env"),  # an erroring task: exit 2
        ("credentials.set", "--env", "dev"),  # refuses without a terminal: exit 2
    ]
    results = run_all(root, env, commands)
    assert_no_leaks(results, sentinels)
    assert shown_source(results, "dev") == "env ALIYUN_ACCESS_KEY_ID_DEV"  # credentials were really read
    codes = {a: p.returncode for a, p in results}
    assert codes[("credentials.show", "--env", "no-such-env")] == 2
    assert codes[("credentials.set", "--env", "dev")] == 2


def test_each_source_when_it_is_the_one_used(tmp_path, closed_port):
    """Each environment finds its keys in a different source; every read task runs on each."""
    root = tmp_path / "proj"
    env = make_project(root, closed_port)
    sentinels = Sentinels()
    plant(root, env, sentinels, {"env": specific("dev"), "env-file": specific("stage"), "dotenv": specific("qa")},
          keyring=("test",))
    read_only, _ = list_tasks(root, env)
    results = run_all(root, env, [r for name in BY_SOURCE.values() for r in read_runs(read_only, name, both=False)])
    assert_no_leaks(results, sentinels)
    expected = {"dev": "env ", "stage": ".env.stage ", "qa": ".env ", "test": "keyring "}
    for name, prefix in expected.items():
        assert shown_source(results, name).startswith(prefix)


def test_github_actions_masks_before_anything_else(tmp_path, closed_port):
    root = tmp_path / "proj"
    env = make_project(root, closed_port)
    sentinels = Sentinels()
    plant(root, env, sentinels, {"env": specific("dev")}, keyring=())
    env.update({"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "develop", "GITHUB_REF": "refs/heads/develop"})
    results = run_all(root, env, [("credentials.show", "--env", "dev"), ("info", "--env", "dev", "--json")])
    assert_no_leaks(results, sentinels, allowed_prefix="::add-mask::")
    out = results[0][1].stdout.splitlines()
    mask = f"::add-mask::{env['ALIYUN_ACCESS_KEY_ID_DEV']}"
    assert mask in out
    assert out.index(mask) < next(i for i, line in enumerate(out) if line.startswith("access_key_id"))
