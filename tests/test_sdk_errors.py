import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException

from agentrun_tasks.core.errors import (
    BusyError, ConfigError, CredentialError, NotFoundError, TransientError,
)
from agentrun_tasks.core.secrets import Secret
from agentrun_tasks.drivers.sdk_errors import translate


@pytest.mark.parametrize("exc, expected", [
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
], ids=["throttling", "503", "500", "throttling-code", "inactive-key", "signature", "404", "409", "400", "reset"])
def test_sdk_failures_map_onto_exit_codes(exc, expected):
    error = translate(exc, "do something")
    assert type(error) is expected
    assert str(error).startswith("do something:")


def test_translated_messages_never_carry_a_secret():
    secret = Secret("SENTINEL-sdk-errors-0123456789")
    exc = ClientException(status_code=400, code="InvalidParameter", message=f"echoed {secret.reveal()} back")
    assert secret.reveal() not in str(translate(exc, "update"))
