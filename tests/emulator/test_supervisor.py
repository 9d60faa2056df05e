"""The supervisor starts real agent processes, reports why one did not start, and leaves none behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import textwrap
import urllib.request
from pathlib import Path

import psutil
import pytest

from agentrun_tasks.emulator import supervisor as supervisor_module
from agentrun_tasks.emulator.spec import ProcessSpec
from agentrun_tasks.emulator.supervisor import StartFailed, Supervisor

CODE = Path(__file__).resolve().parents[2] / "code"

# Answers GET with its own environment; optionally forks a grandchild and ignores SIGTERM first.
ENV_AGENT = textwrap.dedent("""
    import json, os, signal, subprocess, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    if os.environ.get("FORK_GRANDCHILD"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        open("grandchild.pid", "w").write(str(child.pid))
    if os.environ.get("IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(dict(os.environ)).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass
    HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
""")


def agent(tmp_path: Path, source: str, version: str = "1", command=("python3", "agent.py"),
          env: dict | None = None) -> ProcessSpec:
    workdir = tmp_path / f"pkg-{version}"
    workdir.mkdir(exist_ok=True)
    (workdir / "agent.py").write_text(source)
    return ProcessSpec("rt-id", "rt", version, workdir, tuple(command), 9000, env or {})


def get(url: str) -> tuple[dict, dict]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(response.headers), json.loads(response.read())


# Processes this worker ran before the test (another module's emulator, on a shared xdist
# worker): only processes a test starts are its to stop.
_BEFORE: set[int] = set()


def children() -> list[psutil.Process]:
    """Live processes this test started (and not yet stopped), children of their children too."""
    return [p for p in psutil.Process().children(recursive=True)
            if p.pid not in _BEFORE and p.status() != psutil.STATUS_ZOMBIE]


@pytest.fixture
def run(tmp_path):
    """Run a coroutine with a fresh Supervisor; stop_all afterwards whatever happened."""
    _BEFORE.clear()
    _BEFORE.update(p.pid for p in psutil.Process().children(recursive=True))

    def runner(body, **kwargs):
        async def main():
            supervisor = Supervisor(tmp_path / "logs", **kwargs)
            try:
                return await body(supervisor)
            finally:
                await supervisor.stop_all()
        return asyncio.run(main())
    yield runner
    assert children() == []


def test_start_runs_the_example_agent_with_port_and_version(tmp_path, run):
    spec = ProcessSpec("rt-id", "rt", "7", CODE, ("python", "app.py"), 9000)

    async def body(supervisor):
        url = await supervisor.start(spec)
        return url, await asyncio.to_thread(get, url + "/health")

    url, (headers, payload) = run(body)
    assert url.startswith("http://127.0.0.1:")
    assert headers["x-agent-version"] == "7"
    assert payload == {"status": "ok", "version": "7"}


def test_agent_environment_is_the_spec_plus_platform_variables(tmp_path, run, monkeypatch):
    sentinel = "SENTINEL-emulator-secret-4f1c"
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", sentinel)
    spec = agent(tmp_path, ENV_AGENT, version="3", command=("python3.99", "agent.py"),
                 env={"GREETING": "hi"})

    async def body(supervisor):
        url = await supervisor.start(spec)
        return url, await asyncio.to_thread(get, url)

    url, (_, env) = run(body)
    port = url.rsplit(":", 1)[1]
    assert env["PORT"] == env["FC_SERVER_PORT"] == port
    assert env["AGENTRUN_RUNTIME_VERSION"] == "3"
    assert env["PYTHONPATH"] == str(spec.workdir)
    assert env["GREETING"] == "hi"
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" not in env
    log = tmp_path / "logs" / f"{spec.key}.log"
    assert sentinel not in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) & 0o077 == 0


def test_a_crash_is_reported_with_exit_code_and_last_stderr_lines(tmp_path, run):
    spec = agent(tmp_path, "import sys\nprint('missing MODEL_NAME', file=sys.stderr)\nsys.exit(3)\n")

    async def body(supervisor):
        with pytest.raises(StartFailed) as caught:
            await supervisor.start(spec)
        return str(caught.value)

    reason = run(body)
    assert reason.startswith("process exited with code 3: ")
    assert "missing MODEL_NAME" in reason


def test_a_process_that_never_listens_times_out_and_is_stopped(tmp_path, run):
    spec = agent(tmp_path, "import time\ntime.sleep(300)\n")

    async def body(supervisor):
        with pytest.raises(StartFailed, match=r"no answer on port \d+ after 0.5 s"):
            await supervisor.start(spec)
        assert children() == []

    run(body, start_timeout=0.5)


def test_an_unknown_command_is_a_start_failure(tmp_path, run):
    spec = agent(tmp_path, "", command=("no-such-binary-xyz", "agent.py"))

    async def body(supervisor):
        with pytest.raises(StartFailed, match="cannot run 'no-such-binary-xyz'"):
            await supervisor.start(spec)

    run(body)


def test_concurrent_starts_of_one_spec_start_one_process(tmp_path, run):
    spec = agent(tmp_path, ENV_AGENT)

    async def body(supervisor):
        urls = await asyncio.gather(*(supervisor.start(spec) for _ in range(5)))
        again = await supervisor.ensure(spec)
        return set(urls) | {again}, len(children())

    urls, count = run(body)
    assert len(urls) == 1
    assert count == 1


def test_ensure_restarts_a_dead_process(tmp_path, run):
    spec = agent(tmp_path, ENV_AGENT)

    async def body(supervisor):
        first = await supervisor.start(spec)
        pid = supervisor.pids()[spec.key]
        os.kill(pid, signal.SIGKILL)
        for _ in range(200):  # until the child watcher has seen the exit
            if spec.key not in supervisor.pids():
                break
            await asyncio.sleep(0.05)
        second = await supervisor.ensure(spec)
        await asyncio.to_thread(get, second)
        return first, second, pid, supervisor.pids()[spec.key]

    first, second, old_pid, new_pid = run(body)
    assert new_pid != old_pid
    assert second != first


def test_stop_all_kills_the_group_even_a_stubborn_agent_and_its_children(tmp_path, run, monkeypatch):
    monkeypatch.setattr(supervisor_module, "STOP_GRACE_S", 0.5)
    stubborn = agent(tmp_path, ENV_AGENT, version="1", env={"FORK_GRANDCHILD": "1", "IGNORE_TERM": "1"})
    polite = agent(tmp_path, ENV_AGENT, version="2")

    async def body(supervisor):
        await asyncio.gather(supervisor.start(stubborn), supervisor.start(polite))
        assert len(supervisor.pids()) == 2
        grandchild = int((stubborn.workdir / "grandchild.pid").read_text())
        assert psutil.pid_exists(grandchild)
        await supervisor.stop_all()
        assert supervisor.pids() == {}
        return grandchild

    grandchild = run(body)
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


def test_ensure_repeats_a_recent_start_failure_without_relaunching(tmp_path, run):
    spec = agent(tmp_path, "import sys\nprint('launched', flush=True)\nsys.exit(4)\n")

    async def body(supervisor):
        reasons = []
        for _ in range(3):
            with pytest.raises(StartFailed) as caught:
                await supervisor.ensure(spec)
            reasons.append(str(caught.value))
        return reasons

    reasons = run(body)
    assert len(set(reasons)) == 1
    assert "exited with code 4" in reasons[0]
    assert (tmp_path / "logs" / f"{spec.key}.log").read_text().count("launched") == 1
