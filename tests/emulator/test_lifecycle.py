"""Start, reuse, restart and stop a real emulator: state persists, nothing is left running."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import psutil
from alibabacloud_agentrun20250910 import models as ar
from alibabacloud_agentrun20250910.client import Client as AgentRunClient
from alibabacloud_ram20150501 import models as ram
from alibabacloud_ram20150501.client import Client as RamClient
from test_control_sdk import create  # tests/emulator is on sys.path

from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.testing.emulator import running_emulator

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _emulators_of(root: Path) -> list[psutil.Process]:
    """Live emulator processes started with ``--root root``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        argv = proc.info["cmdline"] or []
        if "agentrun_tasks.emulator" in argv and str(root) in argv and _alive(proc.pid):
            found.append(proc)
    return found


def test_concurrent_starts_on_a_fresh_root_share_one_emulator(tmp_path):
    root = tmp_path.resolve()
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def start(i: int) -> None:
        barrier.wait()
        try:
            results[i] = lifecycle.ensure_running(root, timeout=20)
        except Exception as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert all(isinstance(r, lifecycle.EmulatorInfo) for r in results), results
        assert results[0].pid == results[1].pid
        assert [p.pid for p in _emulators_of(root)] == [results[0].pid]
    finally:
        lifecycle.stop(root)
        for proc in _emulators_of(root):  # a second emulator, without the lock
            proc.kill()


def test_restart_keeps_all_state_and_serves_again(emulator):
    client = AgentRunClient(emulator.openapi_config())
    runtime = create(client, "keep-me")
    rid = runtime.agent_runtime_id
    client.publish_runtime_version(rid, ar.PublishRuntimeVersionRequest(body=ar.PublishRuntimeVersionInput()))
    endpoint = client.create_agent_runtime_endpoint(rid, ar.CreateAgentRuntimeEndpointRequest(
        body=ar.CreateAgentRuntimeEndpointInput(agent_runtime_endpoint_name="prod", target_version="1"))).body.data
    second = RamClient(emulator.openapi_config()).create_access_key(ram.CreateAccessKeyRequest()).body.access_key

    old_pid = emulator.pid
    emulator.restart()
    assert emulator.pid != old_pid
    assert not _alive(old_pid)

    client = AgentRunClient(emulator.openapi_config(second.access_key_id, second.access_key_secret))
    again = client.get_agent_runtime(rid, ar.GetAgentRuntimeRequest()).body.data
    assert (again.agent_runtime_name, again.status) == ("keep-me", "READY")
    versions = client.list_agent_runtime_versions(rid, ar.ListAgentRuntimeVersionsRequest()).body.data
    assert [v.agent_runtime_version for v in versions.items] == ["1"]
    got = client.get_agent_runtime_endpoint(rid, endpoint.agent_runtime_endpoint_id).body.data
    assert got.target_version == "1"
    assert got.endpoint_public_url.startswith(emulator.url + "/")  # follows the new port
    with urllib.request.urlopen(got.endpoint_public_url, timeout=15) as resp:  # agent restarted lazily
        assert json.loads(resp.read())["version"] == "1"


def test_stop_leaves_no_process_or_port(tmp_path):
    with running_emulator(tmp_path) as emu:
        assert lifecycle.ensure_running(tmp_path).pid == emu.pid  # a live one is reused
        client = AgentRunClient(emu.openapi_config())
        assert create(client, "agent").status == "READY"
        agents = list(lifecycle.status(tmp_path)["agents"].values())
        assert agents
        assert all(_alive(pid) for pid in agents)
        pids, port = [emu.pid, *agents], emu.port
    assert not any(_alive(pid) for pid in pids)
    assert not _listening(port)
    assert lifecycle.status(tmp_path) is None
    assert not (tmp_path / ".agentrun" / "local" / "emulator.json").exists()
    assert lifecycle.stop(tmp_path) is False


def test_stop_kills_agents_even_if_the_emulator_was_killed(tmp_path):
    with running_emulator(tmp_path) as emu:
        create(AgentRunClient(emu.openapi_config()), "agent")
        agents = list(lifecycle.status(tmp_path)["agents"].values())
        psutil.Process(emu.pid).suspend()  # a hung emulator: SIGTERM cannot be handled
        assert lifecycle.stop(tmp_path, timeout=1) is True
    assert not any(_alive(pid) for pid in [emu.pid, *agents])


def _sigkill_emulator_with_an_agent(emu) -> list[int]:
    """Deploy an agent, then SIGKILL the emulator: the agent's pids, orphaned."""
    create(AgentRunClient(emu.openapi_config()), "agent")
    agents = list(lifecycle.status(emu.root)["agents"].values())
    assert agents
    assert all(_alive(pid) for pid in agents)
    psutil.Process(emu.pid).kill()
    psutil.Process(emu.pid).wait(10)
    return agents


def _kill(pids: list[int]) -> None:
    for pid in pids:
        if _alive(pid):
            psutil.Process(pid).kill()


def test_stop_kills_agents_of_an_emulator_killed_with_sigkill(tmp_path):
    agents: list[int] = []
    try:
        with running_emulator(tmp_path) as emu:
            agents = _sigkill_emulator_with_an_agent(emu)
            assert lifecycle.stop(tmp_path) is False  # no emulator was running...
            assert not any(_alive(pid) for pid in agents)  # ...but its agents are gone too
    finally:
        _kill(agents)


def test_a_start_sweeps_agents_left_by_a_killed_emulator(tmp_path):
    agents: list[int] = []
    try:
        with running_emulator(tmp_path) as emu:
            agents = _sigkill_emulator_with_an_agent(emu)
            lifecycle.ensure_running(tmp_path)
            assert not any(_alive(pid) for pid in agents)
    finally:
        _kill(agents)


def test_another_projects_emulator_under_a_recorded_pid_is_left_alone(tmp_path):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    with running_emulator(theirs) as emu:
        # A stale emulator.json in "mine" whose pid now belongs to the emulator of "theirs".
        stale = mine / ".agentrun" / "local" / "emulator.json"
        stale.parent.mkdir(parents=True)
        stale.write_bytes((theirs / ".agentrun" / "local" / "emulator.json").read_bytes())
        assert lifecycle.status(mine) is None
        assert lifecycle.stop(mine, timeout=1) is False
        assert _alive(emu.pid)
        assert lifecycle.status(theirs)["pid"] == emu.pid


def test_local_tasks_up_status_down(tmp_path):
    (tmp_path / "envs").mkdir()

    def inv(*args):
        return subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(REPO), *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)

    try:
        up = inv("local.up")
        assert up.returncode == 0, up.stderr
        status = json.loads(inv("local.status", "--json").stdout)
        assert status["running"] is True
        assert status["url"].startswith("http://127.0.0.1:")
        assert inv("local.down").returncode == 0
        assert json.loads(inv("local.status", "--json").stdout) == {"running": False}
        assert not _alive(status["pid"])
    finally:
        lifecycle.stop(tmp_path)
