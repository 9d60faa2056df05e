"""Secrets planted as sentinels and searched for in what a process printed: a value leaks when it
appears whole, or when its middle does (what a mask such as ``LTAI****abcd`` hides).

    sentinels = Sentinels()
    key = sentinels.new("env ALIYUN_ACCESS_KEY_SECRET_DEV")   # a fresh value to plant
    sentinels.plant(token, "the OIDC token")                  # or one the test did not choose
    assert not sentinels.leaks_in({"deploy": proc}, allowed_prefix="::add-mask::")
"""

from __future__ import annotations

import secrets as pysecrets
import subprocess
from collections.abc import Mapping

__all__ = ["Sentinels"]


class Sentinels:
    """Fresh random values (or values a test holds), each remembered with the place it was planted."""

    def __init__(self) -> None:
        self.planted: dict[str, str] = {}

    def new(self, where: str) -> str:
        value = f"LTAISNTL{pysecrets.token_hex(12)}"
        self.planted[value] = where
        return value

    def plant(self, value: str, where: str) -> str:
        """Remember ``value`` (at least 12 characters, so its middle means something) as a secret."""
        if len(value) < 12:
            raise ValueError(f"{where}: a sentinel needs 12 characters or more")
        self.planted[value] = where
        return value

    def leaks(self, text: str) -> list[str]:
        # The middle is what a mask (LTAI****abcd) hides: finding it means a (partial) leak.
        return [where for value, where in self.planted.items() if value in text or value[4:-4] in text]

    def leaks_in(self, outputs: Mapping[str, subprocess.CompletedProcess | str],
                 allowed_prefix: str | None = None) -> list[str]:
        """``"<step> (<stream>): <where>"`` for each sentinel a step printed. ``allowed_prefix``: lines
        that must carry the value and that the CI swallows (GitHub's ``::add-mask::``) are skipped."""
        found = []
        for step, output in outputs.items():
            streams = {"output": output} if isinstance(output, str) else {"stdout": output.stdout,
                                                                          "stderr": output.stderr}
            for stream, text in streams.items():
                lines = (text or "").splitlines()
                if allowed_prefix:
                    lines = [line for line in lines if not line.startswith(allowed_prefix)]
                found += [f"{step} ({stream}): {where}" for where in self.leaks("\n".join(lines))]
        return found
