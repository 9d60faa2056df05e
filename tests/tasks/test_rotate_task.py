"""``invoke rotate-keys`` as real processes on a copy of this project and its embedded emulator:
out of the box on ``--env local``, bad input (exit 2/3, no key created), and SIGKILL of the
process right after a step (then a rerun converges); no secret in any output."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.emulator.account import BOOTSTRAP_USER, read_credentials
from agentrun_tasks.testing.platforms import GitHubFake
from agentrun_tasks.testing.project import Project, clean_environ
from agentrun_tasks.testing.rotation import ram_keys

REPO = Path(__file__).resolve().parents[2]
TOKEN = "ghp-rotate-task-token"
# Installed in the child through PYTHONPATH: SIGKILL the process right after one adapter call.
KILLER = '''
import importlib, os, signal
_spec = os.environ.get("AGENTRUN_TEST_KILL_AFTER")
if _spec:
    _module, _, _attr = _spec.partition(":")
    _cls_name, _, _method = _attr.partition(".")
    _cls = getattr(importlib.import_module(_module), _cls_name)
    _original = getattr(_cls, _method)

    def _then_die(self, *args, **kwargs):
        _original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(_cls, _method, _then_die)
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
        (root / "killer").mkdir()
        (root / "killer" / "sitecustomize.py").write_text(KILLER)

    def invoke(self, *args: str, kill_after: str | None = None, **environ: str):
        extra = {"GITHUB_TOKEN": TOKEN, **environ}
        if kill_after:
            path = [str(self.project.root / "killer"), os.environ.get("PYTHONPATH", "")]
            extra.update(PYTHONPATH=os.pathsep.join(filter(None, path)), AGENTRUN_TEST_KILL_AFTER=kill_after)
        proc = self.project.invoke(*args, env=clean_environ(**extra))
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


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    r = Runs(tmp_path_factory.mktemp("rotate-task") / "project")
    try:
        yield r
    finally:
        lifecycle.stop(r.project.root)


def test_out_of_the_box_on_local_then_credentials_check_passes(runs):
    first = runs.invoke("rotate-keys", "--env", "local", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    (old,) = [k for k, s in runs.keys().items() if s == "Inactive"]
    new, _, _ = read_credentials(runs.project.root)
    assert data["result"] == "rotated" and data["old_key"] == f"****{old[-4:]}" and data["new_key"] == f"****{new[-4:]}"
    assert runs.keys() == {old: "Inactive", new: "Active"}
    assert data["read_back"] == {"dotenv:.env.local": True}
    check = runs.invoke("credentials.check", "--env", "local", "--json")
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["Arn"].endswith(f":user/{BOOTSTRAP_USER}")
    # The next run deletes the old key; the new one is younger than --min-age, so nothing rotates.
    second = runs.invoke("rotate-keys", "--env", "local", "--min-age", "1d")
    assert second.returncode == 0, second.stderr
    assert "younger than --min-age 1d" in second.stdout and runs.keys() == {new: "Active"}
    plan = runs.invoke("rotate-keys", "--env", "local", "--dry-run")
    assert plan.returncode == 0 and "create a new key" in plan.stdout and runs.keys() == {new: "Active"}


BAD = [
    ("unknown-sink-type", "credentials: {sinks: [{type: githb, repo: org/app}]}\n", {}, 2, "Did you mean 'github'"),
    ("missing-token", "credentials: {sinks: [{type: github, repo: org/app}]}\n", {"GITHUB_TOKEN": ""}, 3,
     "GITHUB_TOKEN"),
    ("ram-user-does-not-exist", "credentials: {ram_user: nobody}\n", {}, 2, "'nobody'"),
    ("sink-refuses-the-token", "credentials: {sinks: [{type: github, repo: org/app, api_url: URL}]}\n",
     {"GITHUB_TOKEN": "ghp-not-the-right-one"}, 3, "token was refused"),
]


@pytest.mark.parametrize("credentials, environ, code, says", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_exits_clearly_and_creates_no_key(runs, credentials, environ, code, says):
    with GitHubFake(TOKEN).serving() as github:
        runs.configure(credentials.replace("URL", github.url))
        before = runs.keys()
        proc = runs.invoke("rotate-keys", "--env", "local", **environ)
        runs.configure("")
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert runs.keys() == before and not any(r.startswith("PUT") for r in github.requests)


def test_sigkill_after_a_step_then_a_rerun_converges(runs):
    tried = converged = 0
    with GitHubFake(TOKEN).serving() as github:
        runs.configure(f"credentials: {{sinks: [{{type: dotenv}}, {{type: github, repo: org/app, "
                       f"api_url: '{github.url}'}}]}}\n")
        for point in KILL_POINTS:
            tried += 1
            killed = runs.invoke("rotate-keys", "--env", "local", kill_after=point)
            assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
            assert len(runs.keys()) <= 2
            rerun = runs.invoke("rotate-keys", "--env", "local")
            assert rerun.returncode == 0, (point, rerun.stderr)
            active = [k for k, s in runs.keys().items() if s == "Active"]
            new, secret, _ = read_credentials(runs.project.root)
            held = github.values["org/app"]
            assert active == [new] and held["ALIYUN_ACCESS_KEY_ID_LOCAL"] == new, point
            assert held["ALIYUN_ACCESS_KEY_SECRET_LOCAL"] == secret.reveal()
            converged += 1
        runs.configure("")
    assert runs.invoke("credentials.check", "--env", "local").returncode == 0
    print(f"\nfault matrix (SIGKILL of invoke): {tried} kill points tried, {converged} converged")


def test_rotation_done_and_failed_reach_the_notification_channels(runs):
    from agentrun_tasks.testing.receivers import robot

    notify = "notify:\n  timeout: 3s\n  channels:\n    - {type: webhook, webhook: \"${env('HOOK_URL')}\"}\n"
    with robot("webhook") as hook:
        runs.configure(notify)
        done = runs.invoke("rotate-keys", "--env", "local", HOOK_URL=hook.url)
        runs.configure(notify + "credentials: {sinks: [{type: github, repo: org/app}]}\n")
        failed = runs.invoke("rotate-keys", "--env", "local", HOOK_URL=hook.url, GITHUB_TOKEN="")
        runs.configure("")
    assert done.returncode == 0 and failed.returncode == 3, done.stderr + failed.stderr
    assert [m["event"] for m in hook.messages] == ["rotation.done", "rotation.failed"]
    assert "GITHUB_TOKEN" in json.dumps(hook.messages[1])


def test_no_secret_in_any_output(runs):
    text = "\n".join(runs.outputs)
    assert runs.secrets and text
    for secret in runs.secrets | {TOKEN}:
        assert secret not in text and secret[4:-4] not in text
    for key_id in ram_keys(runs.project.root, BOOTSTRAP_USER):
        assert key_id not in text
    assert os.environ.get("AGENTRUN_TEST_KILL_AFTER") is None
