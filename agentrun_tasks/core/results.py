"""What a task returns: a small result object, so a user's own task can build on it.

    @task
    def smoke(c):
        url = deploy(c).url

The object is also a read-only mapping of the task's ``--json`` document (``result["action"]``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskResult(Mapping):
    """The endpoint URL a task left serving (if any), the version it serves, its timings in
    seconds, and the whole ``--json`` document as ``data``."""

    data: Mapping[str, Any]
    url: str | None = None
    version: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
