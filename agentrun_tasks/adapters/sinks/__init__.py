"""Rotation sinks: one module per place a rotated AccessKey is written, each behind
:class:`agentrun_tasks.core.sinks.Sink`. :func:`open_sink` builds one from a validated spec."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.retry import RetryPolicy
from ...core.sinks import Sink, SinkSpec

if TYPE_CHECKING:
    from ...core.ports import AccessKey


def open_sink(spec: SinkSpec, *, root: Path, environ: Mapping[str, str], credentials: AccessKey | None = None,
              region: str = "", policy: RetryPolicy = RetryPolicy()) -> Sink:
    """The sink ``spec`` describes; a missing token is a CredentialError here, before anything changes."""
    if spec.type == "dotenv":
        from .dotenv import DotenvSink
        return DotenvSink(spec, root)
    if spec.type == "keyring":
        from .keyring import KeyringSink
        return KeyringSink(spec)
    if spec.type == "kms":
        from .kms import KmsSink

        assert credentials is not None, "KMS is called as the environment's AccessKey: the session passes it"
        return KmsSink(spec, credentials, region=region, policy=policy)
    from .bitbucket import BitbucketSink
    from .circleci import CircleCISink
    from .github import GitHubSink
    from .gitlab import GitLabSink
    from .jenkins import JenkinsSink
    from .yunxiao import YunxiaoSink

    kinds: dict[str, Callable[[SinkSpec, Mapping[str, str]], Sink]] = {
        "github": GitHubSink, "gitlab": GitLabSink, "jenkins": JenkinsSink, "bitbucket": BitbucketSink,
        "circleci": CircleCISink, "yunxiao": YunxiaoSink}
    return kinds[spec.type](spec, environ)
