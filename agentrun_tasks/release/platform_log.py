"""The platform's own request log as a second sample source for the gates.

The emulator keeps one per endpoint and version (``GET /_emulator/requests``); on the cloud
that log is in SLS, which this version does not read, so there the probe alone decides.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from ..probe import samples_from_request_log


def emulator_log_source(emulator_url: str, runtime: str, endpoint: str, stable: str, candidate: str):
    """A ``gates.LogSource`` over the emulator's log of ``endpoint`` (real traffic, not the probe's)."""

    def source(since: float, until: float):
        query = urllib.parse.urlencode({"runtime": runtime, "endpoint": endpoint, "since": since, "until": until})
        with urllib.request.urlopen(f"{emulator_url}/_emulator/requests?{query}", timeout=10) as response:
            rows = json.loads(response.read())
        return samples_from_request_log(rows, candidate), samples_from_request_log(rows, stable)

    return source
