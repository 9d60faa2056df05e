"""The emulator's admin routes over a real socket: the token opens them, its absence is a 401,
and the token itself shows nowhere (the emulator's log, the info a session holds)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from agentrun_tasks.emulator import admin, lifecycle


def get(url: str, headers: dict) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.mark.parametrize("path", ["/_emulator/health", "/_emulator/faults", "/_emulator/requests?runtime=x"])
def test_a_local_caller_without_the_token_is_refused(emulator, path):
    status, body = get(emulator.url + path, {})
    assert status == 401
    assert body["Code"] == "Unauthorized"
    assert admin.HEADER in body["Message"]
    assert get(emulator.url + path, emulator.admin_headers())[0] == 200


def test_the_token_survives_a_restart_and_never_shows(emulator):
    token = emulator.admin_headers()[admin.HEADER]
    emulator.restart()
    assert emulator.admin_headers()[admin.HEADER] == token  # a caller that read it keeps working
    info = lifecycle.ensure_running(emulator.root)
    shown = repr(info) + json.dumps(lifecycle.status(emulator.root))
    shown += (emulator.root / ".agentrun" / "local" / lifecycle.LOG_FILE).read_text()
    assert token not in shown
