"""How a failed `s` call is classified, from its exit code and the stdout where `s` writes errors."""

from __future__ import annotations

import pytest

from agentrun_tasks.adapters.command import Completed
from agentrun_tasks.adapters.s_cli import classify, error_message
from agentrun_tasks.core import errors

FAILED_101 = """[2026-11-29 20:23:26][WARN][s_cli] It is not recommended to run the command as root user.
⌛  Steps for [info] of [t]
====================
✖ [my-agent] failed to [info]:
====================
Error Message:
{message}

A complete log of this run can be found in: /root/.s/logs/1129202326
"""


def done(code: int, stdout: str = "", stderr: str = "") -> Completed:
    return Completed(("s", "info", "-t", "s.yaml"), code, stdout, stderr)


def test_the_error_message_block_is_read_from_stdout():
    assert error_message(FAILED_101.format(message="agent runtime bot not found")) == "agent runtime bot not found"
    assert error_message("one\ntwo\n") == "one two"


@pytest.mark.parametrize(("code", "message", "kind"), [
    (101, "agent runtime bot not found", errors.NotFoundError),
    (101, "Endpoint canary not found", errors.NotFoundError),
    (101, "Not found access: default", errors.CredentialError),
    (101, "InvalidAccessKeyId.NotFound: Specified access key is not found.", errors.CredentialError),
    (101, "Forbidden.RAM: User not authorized to operate on the specified resource.", errors.CredentialError),
    (101, "Throttling.User: Request was denied due to user flow control.", errors.TransientError),
    (101, "agent runtime bot is UPDATE_FAILED: image pull failed", errors.ResourceFailedError),
    (1, "getaddrinfo ENOTFOUND api.devsapp.cn", errors.TransientError),
    (1, "connect ETIMEDOUT 47.97.1.1:443", errors.TransientError),
    (1, "error: unknown option '--alias'", errors.AgentrunTasksError),
    (100, "The [invoke] command was not found.", errors.ConfigError),
], ids=lambda v: v.__name__ if isinstance(v, type) else str(v)[:30])
def test_classification(code, message, kind):
    error = classify(done(code, FAILED_101.format(message=message)))
    assert type(error) is kind
    assert f"(exit {code})" in str(error)
    assert message in str(error)


def test_a_registry_failure_says_what_s_needed():
    error = classify(done(1, "", "Error: getaddrinfo ENOTFOUND api.devsapp.cn"))
    assert "registry or network" in str(error)
    assert "agentrun@1.0.12" in str(error)
