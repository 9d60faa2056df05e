"""The release state store (locks and history) on OSS, through the official SDK alibabacloud-oss-v2.

CI runners are ephemeral, so state lives in object storage, as Terraform's S3 backend keeps it:
``create`` is a PutObject with ``x-oss-forbid-overwrite: true``, which OSS (and the emulator's
OSS) makes atomic. Keys are relative to ``prefix``. SDK errors become the exit-code classes of
:mod:`core.errors`; transient ones are retried by :class:`RetryPolicy`, not by the SDK's own retryer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import alibabacloud_oss_v2 as oss
from alibabacloud_oss_v2 import exceptions as oss_errors

from ..core.errors import (
    AgentrunTasksError,
    ConfigError,
    CredentialError,
    ResourceFailedError,
    TransientError,
)
from ..core.retry import RetryPolicy
from ..core.secrets import Secret, redact

T = TypeVar("T")

_AUTH_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidSecurityToken",
    "SecurityTokenExpired", "RequestTimeTooSkewed", "UserDisable",
})
_TRANSIENT_CODES = frozenset({"RequestTimeout", "Throttling", "ServiceUnavailable", "InternalError"})


class StoreCredentials(Protocol):
    """Any AccessKey holder: core.credentials.Credentials fits. Values may be Secret or str.
    Read-only members, so a frozen dataclass fits."""

    @property
    def access_key_id(self) -> Secret | str: ...
    @property
    def access_key_secret(self) -> Secret: ...
    @property
    def security_token(self) -> Secret | str | None: ...


class OssStateStore:
    """Small JSON objects under ``oss://bucket/prefix/`` with an atomic create."""

    def __init__(self, endpoint: str | None, bucket: str, prefix: str, credentials: StoreCredentials,
                 region: str, *, retry: RetryPolicy = RetryPolicy(), timeout: float = 10.0) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.where = f"oss://{bucket}/{self.prefix}" + (f" at {endpoint}" if endpoint else f" in {region}")
        self._retry = retry
        cfg = oss.config.load_default()
        cfg.region = region
        if endpoint:
            cfg.endpoint = endpoint  # "http://127.0.0.1:PORT" for the emulator: an IP means path-style
        if hasattr(credentials, "oss_provider"):  # role credentials: the current session per request
            cfg.credentials_provider = credentials.oss_provider()
        else:
            cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
                _reveal(credentials.access_key_id), credentials.access_key_secret.reveal(),
                _reveal(credentials.security_token) if credentials.security_token else None,
            )
        cfg.retryer = oss.retry.NopRetryer()
        cfg.connect_timeout = cfg.readwrite_timeout = timeout
        self._client = oss.Client(cfg)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if there is none."""
        def op() -> bytes | None:
            try:
                request = oss.GetObjectRequest(bucket=self.bucket, key=self._key(key))
                return self._client.get_object(request).body.content
            except oss_errors.OperationError as exc:
                if _code(exc) == "NoSuchKey":
                    return None
                raise
        return self._call(f"read {key}", op)

    def get_size(self, key: str) -> int | None:
        """The object's size (HeadObject), or None if there is none: the cheap "already uploaded?"."""
        def op() -> int | None:
            try:
                return self._client.head_object(oss.HeadObjectRequest(bucket=self.bucket, key=self._key(key))
                                                ).content_length
            except oss_errors.OperationError as exc:
                if _code(exc) in ("NoSuchKey", "404"):
                    return None
                raise
        return self._call(f"look up {key}", op)

    def object_name(self, key: str) -> str:
        """The full object key of ``key`` in the bucket (prefix included)."""
        return self._key(key)

    def put(self, key: str, data: bytes) -> None:
        """Write the object, replacing any previous one."""
        self._call(f"write {key}", lambda: self._client.put_object(
            oss.PutObjectRequest(bucket=self.bucket, key=self._key(key), body=data)))

    def create(self, key: str, data: bytes) -> bool:
        """Write the object only if absent, atomically; False if it already existed."""
        def op() -> bool:
            try:
                self._client.put_object(oss.PutObjectRequest(
                    bucket=self.bucket, key=self._key(key), body=data, forbid_overwrite=True))
                return True
            except oss_errors.OperationError as exc:
                if _code(exc) == "FileAlreadyExists":
                    return False
                raise
        return self._call(f"create {key}", op)

    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing one is not an error."""
        self._call(f"delete {key}", lambda: self._client.delete_object(
            oss.DeleteObjectRequest(bucket=self.bucket, key=self._key(key))))

    def list(self, prefix: str = "") -> list[str]:
        """Keys (relative to the store's prefix) starting with ``prefix``, in key order."""
        def op() -> list[str]:
            pages = self._client.list_objects_v2_paginator().iter_page(
                oss.ListObjectsV2Request(bucket=self.bucket, prefix=self._key(prefix), max_keys=1000))
            return [obj.key[len(self.prefix):] for page in pages for obj in (page.contents or [])]
        return self._call(f"list {prefix or '/'}", op)

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (the emulator; on the cloud it usually exists)."""
        def op() -> None:
            try:
                self._client.put_bucket(oss.PutBucketRequest(bucket=self.bucket))
            except oss_errors.OperationError as exc:
                if _code(exc) != "BucketAlreadyExists":
                    raise
        self._call("create the bucket", op)

    def _key(self, key: str) -> str:
        return self.prefix + key.lstrip("/")

    def _call(self, what: str, op: Callable[[], T]) -> T:
        def attempt() -> T:
            try:
                return op()
            except oss_errors.BaseError as exc:
                raise self._translate(what, exc) from None
        return self._retry.call(attempt)

    def _translate(self, what: str, exc: Exception) -> AgentrunTasksError:
        """One paragraph per failure, scrubbed of secrets, naming the operation and the store."""
        err = _service(exc)
        if err is None:
            cause = exc.unwrap() if isinstance(exc, oss_errors.OperationError) else exc
            if isinstance(cause, (oss_errors.RequestError, oss_errors.ResponseError)):
                return TransientError(redact(f"Could not {what} in the state store {self.where}: {cause}. "
                                             "Check the endpoint and the network."))
            return ConfigError(redact(f"Could not {what} in the state store {self.where}: {cause}. "
                                      "Check the state store's bucket, prefix and region settings."))
        said = f"OSS said {err.status_code} {err.code}: {err.message}"
        if err.code in _AUTH_CODES or err.status_code == 403:
            return CredentialError(redact(
                f"Could not {what} in the state store {self.where}: {said}. Check the AccessKey this "
                "environment resolves (`invoke credentials.show`) and that it may read and write this bucket."))
        if err.code == "NoSuchBucket":
            return ConfigError(redact(
                f"The state store bucket '{self.bucket}' does not exist ({said}). Create it, or set the "
                "environment's state bucket to one that exists."))
        if err.code in _TRANSIENT_CODES or err.status_code == 429 or err.status_code >= 500:
            return TransientError(redact(f"Could not {what} in the state store {self.where}: {said}."))
        return ResourceFailedError(redact(f"Could not {what} in the state store {self.where}: {said}."))


def _service(exc: Exception) -> oss_errors.ServiceError | None:
    inner = exc.unwrap() if isinstance(exc, oss_errors.OperationError) else exc
    return inner if isinstance(inner, oss_errors.ServiceError) else None


def _code(exc: Exception) -> str | None:
    """OSS's error code (NoSuchKey...), or None when the failure is not OSS's answer."""
    err = _service(exc)
    return err.code if err is not None else None


def _reveal(value: Secret | str) -> str:
    return value.reveal() if isinstance(value, Secret) else value
