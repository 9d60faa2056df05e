import pytest
from alibabacloud_tea_openapi.exceptions import (
    ClientException,
    ServerException,
    ThrottlingException,
)
from darabonba.exceptions import (
    RequiredArgumentException,
    UnretryableException,
    ValidateException,
)
from darabonba.policy.retry import RetryPolicyContext
from Tea.exceptions import RequiredArgumentException as TeaRequiredArgumentException
from Tea.exceptions import UnretryableException as TeaUnretryableException

from agentrun_tasks.adapters.openapi import Connection, OpenApiDriver
from agentrun_tasks.adapters.openapi_errors import translate
from agentrun_tasks.core.errors import (
    BusyError,
    ConfigError,
    CredentialError,
    NotFoundError,
    TransientError,
)
from agentrun_tasks.core.retry import RetryPolicy
from agentrun_tasks.core.secrets import Secret


def _unretryable(inner: Exception) -> UnretryableException:
    return UnretryableException(RetryPolicyContext(exception=inner))


@pytest.mark.parametrize(("exc", "expected"), [
    (ThrottlingException(status_code=429, code="Throttling.User", message="slow down", retry_after=1), TransientError),
    (ServerException(status_code=503, code="ServiceUnavailable", message="busy"), TransientError),
    (ServerException(status_code=500, code="InternalError", message="oops"), TransientError),
    (ClientException(status_code=400, code="Throttling", message="too many"), TransientError),
    (ClientException(status_code=403, code="InvalidAccessKeyId.Inactive", message="disabled"), CredentialError),
    (ClientException(status_code=400, code="SignatureDoesNotMatch", message="bad sig"), CredentialError),
    (ClientException(status_code=404, code="AgentRuntimeNotFound", message="nope"), NotFoundError),
    (ClientException(status_code=409, code="Conflict", message="updating"), BusyError),
    (ClientException(status_code=400, code="InvalidParameter", message="cpu"), ConfigError),
    (ConnectionResetError("reset by peer"), TransientError),
    (TimeoutError("read timed out"), TransientError),
    (_unretryable(ConnectionRefusedError("refused")), TransientError),
    (TeaUnretryableException(None, ConnectionResetError("reset")), TransientError),
    (ValidateException("agentRuntimeName is not match: ^[a-z]+$"), ConfigError),
    (RequiredArgumentException("endpoint"), ConfigError),
    (TeaRequiredArgumentException("body"), ConfigError),
], ids=["throttling", "503", "500", "throttling-code", "inactive-key", "signature", "404", "409", "400", "reset",
        "timeout", "unretryable", "tea-unretryable", "validate", "required-argument", "tea-required-argument"])
def test_sdk_failures_map_onto_exit_codes(exc, expected):
    error = translate(exc, "do something")
    assert type(error) is expected
    assert str(error).startswith("do something:")


@pytest.mark.parametrize("exc", [
    TypeError("unexpected keyword argument"), ImportError("no module named x"), KeyError("data"),
    AttributeError("'NoneType' object has no attribute 'to_map'"), ValueError("bad"),
], ids=lambda e: type(e).__name__)
def test_bugs_are_not_translated(exc):
    assert translate(exc, "do something") is None


@pytest.mark.parametrize("make", [
    lambda s: ClientException(status_code=400, code="InvalidParameter", message=f"echoed {s} back"),
    lambda s: ServerException(status_code=500, code="InternalError", message=f"echoed {s} back"),
    lambda s: ConnectionResetError(f"echoed {s} back"),
    lambda s: _unretryable(ConnectionResetError(f"echoed {s} back")),
    lambda s: ValidateException(f"echoed {s} back"),
    lambda s: RequiredArgumentException(s),
], ids=["client", "server", "oserror", "unretryable", "validate", "required"])
def test_translated_messages_never_carry_a_secret(make):
    secret = Secret("SENTINEL-sdk-errors-0123456789")
    error = translate(make(secret.reveal()), "update")
    assert error is not None
    assert secret.reveal() not in str(error)


class _Creds:
    access_key_id = Secret("LTAI-test-key-id")
    access_key_secret = Secret("test-key-secret-0123456789")
    security_token = None


def _driver(attempts: int = 3) -> OpenApiDriver:
    connection = Connection(endpoint="127.0.0.1:1", protocol="http", region="cn-hangzhou", credentials=_Creds())
    return OpenApiDriver(connection, RetryPolicy(attempts=attempts, initial=0.0, maximum=0.0, total=5.0))


def test_call_reraises_a_bug_unchanged_and_does_not_retry_it():
    calls = []

    def broken():
        calls.append(1)
        raise TypeError("got an unexpected keyword argument 'x'")

    with pytest.raises(TypeError, match="unexpected keyword"):
        _driver()._call("list runtimes", broken)
    assert len(calls) == 1


def test_call_retries_a_network_failure_then_gives_up_transient():
    calls = []

    def unreachable():
        calls.append(1)
        raise _unretryable(ConnectionRefusedError("refused"))

    with pytest.raises(TransientError, match="list runtimes: could not reach"):
        _driver(attempts=2)._call("list runtimes", unreachable)
    assert len(calls) == 2


def test_call_fails_validation_at_once_as_config_error():
    calls = []

    def invalid():
        calls.append(1)
        raise ValidateException("cpu is less than the minimum: 0.1")

    with pytest.raises(ConfigError):
        _driver()._call("create runtime", invalid)
    assert len(calls) == 1
