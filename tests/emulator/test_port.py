"""A stable local URL (issue 8, item 9): the emulator listens on its last port after a restart,
says clearly when a port is taken, and an endpoint URL keeps answering across the restart."""

from __future__ import annotations

import socket

import pytest

from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.emulator import lifecycle
from agentrun_tasks.emulator.ports import LAST_OSS_PORT_FILE, choose_port, remember_port


def test_a_restart_keeps_the_port_and_a_taken_last_port_is_a_warning(emulator):
    first = emulator.port
    emulator.restart()
    assert emulator.port == first
    lifecycle.stop(emulator.root)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the old port may be in TIME_WAIT
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        with pytest.warns(UserWarning, match=f"last port {first} is taken"):
            info = lifecycle.ensure_running(emulator.root)
    assert info.port != first
    emulator.port = info.port


def test_a_port_asked_for_that_is_taken_is_refused_naming_the_holder(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is taken by") as refused:
            lifecycle.ensure_running(tmp_path, port=port)
    assert refused.value.exit_code == 2
    assert lifecycle.status(tmp_path) is None


def test_a_restart_keeps_the_oss_port_and_a_taken_one_is_a_warning(emulator):
    """An environment whose state store points at the emulator's OSS keeps its store across
    local.down/local.up (issue 21, item 5)."""
    oss = lifecycle.status(emulator.root)["oss_url"]
    emulator.restart()
    assert lifecycle.status(emulator.root)["oss_url"] == oss
    lifecycle.stop(emulator.root)
    old_port = int(oss.rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        with pytest.warns(UserWarning, match=f"last OSS port {old_port} is taken"):
            info = lifecycle.ensure_running(emulator.root)
    assert info.port == emulator.port
    assert info.oss_url != oss
    lifecycle.stop(emulator.root)
    assert lifecycle.ensure_running(emulator.root).oss_url == info.oss_url  # the new one is remembered


def test_the_oss_port_gives_way_to_a_control_port_asked_for(tmp_path):
    remember_port(tmp_path, 40123, last=LAST_OSS_PORT_FILE)
    with pytest.warns(UserWarning, match="last OSS port 40123 is taken by its own API"):
        assert choose_port(tmp_path, 0, last=LAST_OSS_PORT_FILE, avoid=40123) == 0
    (tmp_path / LAST_OSS_PORT_FILE).write_text("99999999\n")  # damaged: any free port, silently
    assert choose_port(tmp_path, 0, last=LAST_OSS_PORT_FILE) == 0
