"""A throw-away copy of a project (envs/, code/, tasks.py) driven by real ``invoke`` processes,
as a user drives it: for integration tests and benchmarks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Project", "chat", "clean_environ", "cloud_env_file"]

# Variables that would make the child think it runs in CI or on another account.
_DROP_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "CIRCLE", "BITBUCKET_", "BUILDKITE", "JENKINS_", "SYSTEM_",
                  "BUILD_", "PIPELINE_", "ALIBABA_CLOUD_", "ALIYUN_", "TF_BUILD", "INVOKE_")
_DROP = {"CI", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TF_BUILD", "BRANCH_NAME", "CHANGE_ID"}


def cloud_env_file(port: int, name: str, *, agent: str = "", rest: str = "") -> str:
    """An env file for a cloud environment whose control plane is a local emulator on ``port``:
    ``agent`` adds lines to the agent block (indented two spaces), ``rest`` top-level settings."""
    return (f"region: cn-hangzhou\ncontrol_endpoint: 127.0.0.1:{port}\nprotocol: http\nagent:\n  name: {name}\n"
            "  code: {src: code, language: python3.12, command: [python3, app.py]}\n" + agent + rest)


def clean_environ(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith(_DROP_PREFIXES)}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env.update(extra)
    return env


@dataclass
class Project:
    root: Path

    @classmethod
    def copy(cls, repo: Path, root: Path, *, with_package: bool = False) -> Project:
        """``code/``, ``envs/`` and ``tasks.py`` of ``repo`` in ``root`` (and ``agentrun_tasks/``,
        for benchmarks that must know the state of its .pyc caches)."""
        root.mkdir(parents=True)
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(repo / "code", root / "code", ignore=ignore)
        shutil.copytree(repo / "envs", root / "envs")
        shutil.copy(repo / "tasks.py", root / "tasks.py")
        if with_package:
            shutil.copytree(repo / "agentrun_tasks", root / "agentrun_tasks", ignore=ignore)
        return cls(root)

    @classmethod
    @contextmanager
    def throwaway(cls, repo: Path, root: Path) -> Iterator[Project]:
        """A copy of ``repo`` in ``root`` whose emulator (if a task started one) is stopped at the end."""
        from ..emulator import lifecycle

        project = cls.copy(repo, root)
        try:
            yield project
        finally:
            lifecycle.stop(project.root)

    @contextmanager
    def background(self, *args: str, env: dict | None = None) -> Iterator[subprocess.Popen]:
        """``invoke *args`` as a separate process group; killed if still running at the end."""
        child = subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=self.root, env=env or clean_environ(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            yield child
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)

    def invoke(self, *args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=self.root, env=env or clean_environ(),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def invoke_json(self, *args: str, **kwargs) -> dict:
        proc = self.invoke(*args, "--json", **kwargs)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        return json.loads(proc.stdout)

    def configure_release(self, *, steps: str = "[0.05, 0.25, 0.5, 1.0]", interval: str = "2s",
                          strategy: str = "canary", agent_env: dict | None = None) -> None:
        """Short release settings for tests, and environment variables for the agent (faults)."""
        env_file = self.root / "envs" / "local.yaml"
        text = env_file.read_text()
        text = text.replace("steps: [0.1, 0.5, 1.0]", f"steps: {steps}")
        text = text.replace("interval: 10s", f"interval: {interval}")
        text = text.replace("strategy: canary", f"strategy: {strategy}")
        if agent_env:
            lines = "".join(f'    {k}: "{v}"\n' for k, v in agent_env.items())
            text = text.replace("  port: 9000\n", "  port: 9000\n  environmentVariables:\n" + lines, 1)
        env_file.write_text(text)

    def endpoint_state(self, name: str = "prod") -> dict | None:
        """The endpoint as the emulator stores it, read without a control-plane call."""
        try:
            state = json.loads((self.root / ".agentrun" / "local" / "state.json").read_text())
        except (OSError, ValueError):
            return None
        return next((e for e in state.get("endpoints", {}).values() if e["agentRuntimeEndpointName"] == name), None)

    def state_object(self, key: str) -> bytes | None:
        """An object of the release state (``locks/local.json``, ...) as the emulator's OSS stores
        it, read without a call."""
        from ..emulator.oss import read_object
        from ..session import EMULATOR_BUCKET

        return read_object(self.root / ".agentrun" / "local" / "oss", EMULATOR_BUCKET, f"agentrun-tasks/{key}")

    def hold_agent_start(self) -> Path:
        """Make the agent wait at start until the returned file is removed, so a deploy stays
        CREATING/UPDATING for as long as a test needs, with no sleep to tune."""
        hold = self.root / "hold-start"
        hold.touch()
        app = self.root / "code" / "app.py"
        app.write_text(f"import os, time\nwhile os.path.exists({str(hold)!r}): time.sleep(0.05)\n" + app.read_text())
        return hold

    def wait_for_state(self, text: str, timeout: float = 60) -> None:
        """Wait until the emulator's state file contains ``text`` (e.g. '"CREATING"')."""
        state = self.root / ".agentrun" / "local" / "state.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if state.exists() and text in state.read_text():
                return
            time.sleep(0.05)
        raise AssertionError(f"the emulator's state never showed {text}")

    def set_greeting(self, text: str) -> None:
        app = self.root / "code" / "app.py"
        source = app.read_text()
        start = source.index('GREETING = "')
        end = source.index('"', start + len('GREETING = "'))
        app.write_text(source[:start] + f'GREETING = "{text}' + source[end:])


def chat(url: str, content: str = "hi") -> tuple[int, dict, dict]:
    body = json.dumps({"model": "agent", "messages": [{"role": "user", "content": content}]}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/openai/v1/chat/completions", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), json.loads(response.read())
