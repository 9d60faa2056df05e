"""What the control plane hands the data plane: how to run one version of an agent."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path


@dataclass(frozen=True)
class ProcessSpec:
    """One runnable version: an unpacked package, its command and environment.

    ``key`` identifies the process: two specs with equal keys share one running process.
    ``version`` is what the agent sees as ``AGENTRUN_RUNTIME_VERSION`` ("LATEST" or "1", "2", ...).
    """

    runtime_id: str
    runtime_name: str
    version: str
    workdir: Path
    command: tuple[str, ...]
    port: int  # the port the agent is configured to listen on in the cloud (agent.port)
    env: Mapping[str, str] = field(default_factory=dict)
    package_sha256: str = ""

    @cached_property  # hashed once per spec, not on every proxied request
    def key(self) -> str:
        blob = json.dumps(
            [self.runtime_id, self.version, str(self.workdir), list(self.command), self.port,
             sorted(self.env.items()), self.package_sha256],
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
