"""``invoke rotate-keys`` as real processes on a copy of this project and its embedded emulator:
out of the box on ``--env local``, bad input (exit 2/3, no key created), SIGKILL of the process
right after a step (then a rerun converges), a second rotation while one runs (exit 7), and a
gateway environment rotating through its control_endpoint; no secret in any output. Each test has
its own project and emulator (xdist-safe); its teardown searches every output for a secret."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.emulator.account import BOOTSTRAP_USER, read_credentials
from agentrun_tasks.testing.platforms import GitHubFake
from agentrun_tasks.testing.project import Project, clean_environ
from agentrun_tasks.testing.rotation import job_reads, ram_keys

REPO = Path(__file__).resolve().parents[2]
TOKEN = "ghp-rotate-task-token"
# Installed in the child through PYTHONPATH: around one adapter call, SIGKILL the process right
# after it, or stop right before/after it until the test removes a file (an event, not a sleep).
HOOK = '''
import importlib, os, signal, time
_spec = os.environ.get("AGENTRUN_TEST_HOOK")
if _spec:
    _target, _when, _action = _spec.split(" ")
    _module, _, _attr = _target.partition(":")
    _cls_name, _, _method = _attr.partition(".")
    _cls = getattr(importlib.import_module(_module), _cls_name)
    _original = getattr(_cls, _method)

    def _act():
        if _action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        open(_action + ".reached", "w").close()
        while os.path.exists(_action):
            time.sleep(0.02)

    def _hooked(self, *args, **kwargs):
        if _when == "before":
            _act()
        result = _original(self, *args, **kwargs)
        if _when == "after":
            _act()
        return result

    setattr(_cls, _method, _hooked)
'''
KILL_POINTS = ("agentrun_tasks.adapters.ram_keys:RamKeys.create_key", "agentrun_tasks.adapters.ram_keys:RamKeys.verify",
               "agentrun_tasks.adapters.sinks.github:GitHubSink.write",
               "agentrun_tasks.adapters.ram_keys:RamKeys.set_status")


class Runs:
    """A project copy whose every invoke output is kept for the sentinel search."""

    def __init__(self, root: Path) -> None:
        self.project = Project.copy(REPO, root)
        self.outputs: list[str] = []
        self.secrets: set[str] = set()
        self.local_yaml = (root / "envs" / "local.yaml").read_text()
        (root / "hook").mkdir()
        (root / "hook" / "sitecustomize.py").write_text(HOOK)

    def environ(self, hook: str | None = None, **environ: str) -> dict:
        extra = {"GITHUB_TOKEN": TOKEN, **environ}
        if hook:
            path = [str(self.project.root / "hook"), os.environ.get("PYTHONPATH", "")]
            extra.update(PYTHONPATH=os.pathsep.join(filter(None, path)), AGENTRUN_TEST_HOOK=hook)
        return clean_environ(**extra)

    def invoke(self, *args: str, hook: str | None = None, **environ: str):
        proc = self.project.invoke(*args, env=self.environ(hook, **environ))
        self.outputs.append(proc.stdout + proc.stderr)
        self.remember()
        return proc

    def remember(self) -> None:
        if (self.project.root / ".agentrun" / "local" / "state.json").exists():
            self.secrets |= {k["secret"] for k in ram_keys(self.project.root, BOOTSTRAP_USER).values()}

    def configure(self, credentials: str) -> None:
        (self.project.root / "envs" / "local.yaml").write_text(self.local_yaml + credentials)

    def keys(self) -> dict[str, str]:
        return {key_id: k["status"] for key_id, k in ram_keys(self.project.root, BOOTSTRAP_USER).items()}

    def no_secret_in_outputs(self) -> None:
        text = "\n".join(self.outputs)
        for secret in self.secrets | {TOKEN}:
            assert secret not in text
            assert secret[4:-4] not in text
        for key_id in ram_keys(self.project.root, BOOTSTRAP_USER):
            assert key_id not in text


@pytest.fixture
def runs(tmp_path):
    r = Runs(tmp_path / "project")
    try:
        assert r.invoke("local.up").returncode == 0
        yield r
        r.no_secret_in_outputs()
    finally:
        lifecycle.stop(r.project.root)


def test_out_of_the_box_on_local_then_credentials_check_passes(runs):
    first = runs.invoke("rotate-keys", "--env", "local", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    (old,) = [k for k, s in runs.keys().items() if s == "Inactive"]
    new, _, _ = read_credentials(runs.project.root)
    assert data["result"] == "rotated"
    assert data["old_key"] == f"****{old[-4:]}"
    assert data["new_key"] == f"****{new[-4:]}"
    assert runs.keys() == {old: "Inactive", new: "Active"}
    assert data["read_back"] == {"dotenv:.env.local": True}
    check = runs.invoke("credentials.check", "--env", "local", "--json")
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["Arn"].endswith(f":user/{BOOTSTRAP_USER}")
    # The next run deletes the old key; the new one is younger than --min-age, so nothing rotates.
    second = runs.invoke("rotate-keys", "--env", "local", "--min-age", "1d")
    assert second.returncode == 0, second.stderr
    assert "younger than --min-age 1d" in second.stdout
    assert runs.keys() == {new: "Active"}
    plan = runs.invoke("rotate-keys", "--env", "local", "--dry-run")
    assert plan.returncode == 0
    assert "create a new key" in plan.stdout
    assert runs.keys() == {new: "Active"}


BAD = [
    ("unknown-sink-type", "credentials: {sinks: [{type: githb, repo: org/app}]}\n", {}, 2, "Did you mean 'github'"),
    ("missing-token", "credentials: {sinks: [{type: github, repo: org/app}]}\n", {"GITHUB_TOKEN": ""}, 3,
     "GITHUB_TOKEN"),
    ("ram-user-does-not-exist", "credentials: {ram_user: nobody}\n", {}, 2, "'nobody'"),
    ("sink-refuses-the-token", "credentials: {sinks: [{type: github, repo: org/app, api_url: URL}]}\n",
     {"GITHUB_TOKEN": "ghp-not-the-right-one"}, 3, "token was refused"),
    # The dotenv sink writes a temporary file beside its target: a folder that cannot hold one fails first.
    ("dotenv-in-proc", "credentials: {sinks: [{type: github, repo: org/app, api_url: URL}, "
     "{type: dotenv, path: /proc/version}]}\n", {}, 2, "cannot be written"),
    ("dotenv-through-a-file", "credentials: {sinks: [{type: dotenv, path: .env.local/.env.x}]}\n", {}, 2,
     "cannot be written"),
]


@pytest.mark.parametrize(("credentials", "environ", "code", "says"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_exits_clearly_and_creates_no_key(runs, credentials, environ, code, says):
    with GitHubFake(TOKEN).serving() as github:
        runs.configure(credentials.replace("URL", github.url))
        before = runs.keys()
        proc = runs.invoke("rotate-keys", "--env", "local", **environ)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert says in proc.stderr
    assert "Traceback" not in proc.stderr
    assert runs.keys() == before
    assert not any(r.startswith("PUT") for r in github.requests)


@pytest.mark.parametrize("point", KILL_POINTS, ids=[p.rsplit(".", 1)[-1] for p in KILL_POINTS])
def test_sigkill_after_a_step_then_a_rerun_converges(runs, point):
    with GitHubFake(TOKEN).serving() as github:
        runs.configure(f"credentials: {{sinks: [{{type: dotenv}}, {{type: github, repo: org/app, "
                       f"api_url: '{github.url}'}}]}}\n")
        killed = runs.invoke("rotate-keys", "--env", "local", hook=f"{point} after kill")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert len(runs.keys()) <= 2
        rerun = runs.invoke("rotate-keys", "--env", "local")
        if point.endswith("create_key"):  # the new key's id died with the process: it cannot be proven ours
            assert rerun.returncode == 2, rerun.stderr
            assert "--force" in rerun.stderr, rerun.stderr
            assert len(runs.keys()) == 2, rerun.stderr
            rerun = runs.invoke("rotate-keys", "--env", "local", "--force")
        assert rerun.returncode == 0, rerun.stderr
        active = [k for k, s in runs.keys().items() if s == "Active"]
        new, secret, _ = read_credentials(runs.project.root)
        assert active == [new]
        assert job_reads(github.values["org/app"]) == (new, secret.reveal())
    assert runs.invoke("credentials.check", "--env", "local").returncode == 0
    if point.endswith("set_status"):  # rotate -> sinks -> the next deploy, with the rotated key
        deploy = runs.invoke("deploy", "--env", "local")
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr


def _background(runs: Runs, hook: str, **environ: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "invoke", "rotate-keys", "--env", "local"], cwd=runs.project.root,
                            env=runs.environ(hook, **environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)


def _reached(runs: Runs, name: str, child: subprocess.Popen) -> None:
    flag = runs.project.root / f"{name}.reached"
    deadline = time.monotonic() + 120
    while not flag.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, child.communicate()
        time.sleep(0.02)


def test_a_rotation_started_while_another_runs_exits_7_not_3(runs):
    root = runs.project.root
    (root / "second").touch()
    (root / "first").touch()
    # The second run has resolved its key and stops right before its first RAM call ...
    second = _background(runs, "agentrun_tasks.adapters.ram_keys:RamKeys.caller_user before second")
    first = None
    try:
        _reached(runs, "second", second)
        # ... while the first run rotates and stops right after deactivating that key, holding the lock.
        first = _background(runs, "agentrun_tasks.adapters.ram_keys:RamKeys.set_status after first")
        _reached(runs, "first", first)
        (root / "second").unlink()
        out, err = second.communicate(timeout=120)
        runs.outputs.append(out + err)
        assert second.returncode == 7, out + err
        assert "Another rotation is running" in err
        assert "Traceback" not in err
        (root / "first").unlink()
        out, err = first.communicate(timeout=120)
        runs.outputs.append(out + err)
        assert first.returncode == 0, err
    finally:
        for child in (first, second):
            if child is not None and child.poll() is None:
                child.kill()
                child.communicate()
    runs.remember()


def test_rotation_done_and_failed_reach_the_notification_channels(runs):
    from agentrun_tasks.testing.receivers import robot

    notify = "notify:\n  timeout: 3s\n  channels:\n    - {type: webhook, webhook: \"${env('HOOK_URL')}\"}\n"
    with robot("webhook") as hook:
        runs.configure(notify)
        done = runs.invoke("rotate-keys", "--env", "local", HOOK_URL=hook.url)
        runs.configure(notify + "credentials: {sinks: [{type: github, repo: org/app}]}\n")
        failed = runs.invoke("rotate-keys", "--env", "local", HOOK_URL=hook.url, GITHUB_TOKEN="")
    assert done.returncode == 0, done.stderr + failed.stderr
    assert failed.returncode == 3, done.stderr + failed.stderr
    assert [m["event"] for m in hook.messages] == ["rotation.done", "rotation.failed"]
    assert "GITHUB_TOKEN" in json.dumps(hook.messages[1])


def test_a_gateway_environment_rotates_through_its_control_endpoint(tmp_path):
    # A cloud environment (not emulator: true) whose control_endpoint is a gateway (here the
    # emulator): RAM and STS are called there, as every other call is.
    from agentrun_tasks.testing.emulator import running_emulator

    with running_emulator(tmp_path / "emu") as emu:
        project = Project.copy(REPO, tmp_path / "gw")
        (project.root / "envs" / "gw.yaml").write_text(
            (project.root / "envs" / "local.yaml").read_text().replace("emulator: true", "emulator: false")
            + f"control_endpoint: {emu.endpoint}\nprotocol: http\n")
        (project.root / ".env.gw").write_text(f"ALIYUN_ACCESS_KEY_ID_GW={emu.access_key_id}\n"
                                              f"ALIYUN_ACCESS_KEY_SECRET_GW={emu.access_key_secret.reveal()}\n")
        (project.root / ".env.gw").chmod(0o600)
        proc = project.invoke("rotate-keys", "--env", "gw", "--grace", "0s", env=clean_environ())
        assert proc.returncode == 0, proc.stdout + proc.stderr
        keys = {k: v["status"] for k, v in ram_keys(emu.root, BOOTSTRAP_USER).items()}
        new = (project.root / ".env.gw").read_text().split("ALIYUN_ACCESS_KEY_ID_GW='")[1].split("'")[0]
        assert keys[new] == "Active"
        assert keys[emu.access_key_id] == "Inactive"
        assert emu.access_key_secret.reveal() not in proc.stdout + proc.stderr


def test_ram_and_sts_endpoints_follow_the_env_file():
    from dataclasses import replace
    from types import SimpleNamespace

    from agentrun_tasks.core.model import CredentialsConfig
    from agentrun_tasks.session.endpoints import ram_endpoint, sts_endpoint

    def env(control=None, **creds):
        return SimpleNamespace(region="cn-hangzhou", control_endpoint=control,
                               credentials=replace(CredentialsConfig(), **creds))

    assert (ram_endpoint(env()), sts_endpoint(env())) == ("ram.aliyuncs.com", "sts.cn-hangzhou.aliyuncs.com")
    assert (ram_endpoint(env("gw.example.com:8443")), sts_endpoint(env("gw.example.com:8443"))) == (
        "gw.example.com:8443", "gw.example.com:8443")
    vpc = env("agentrun-vpc.cn-hangzhou.aliyuncs.com")
    assert (ram_endpoint(vpc), sts_endpoint(vpc)) == ("ram.aliyuncs.com", "sts-vpc.cn-hangzhou.aliyuncs.com")
    explicit = env("agentrun-vpc.cn-hangzhou.aliyuncs.com", ram_endpoint="ram.vpc-proxy.aliyuncs.com",
                   sts_endpoint="sts-vpc.cn-hangzhou.aliyuncs.com")
    assert (ram_endpoint(explicit), sts_endpoint(explicit)) == ("ram.vpc-proxy.aliyuncs.com",
                                                                "sts-vpc.cn-hangzhou.aliyuncs.com")
