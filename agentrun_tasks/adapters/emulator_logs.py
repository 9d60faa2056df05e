"""The local emulator's logs, over its loopback admin API: the data plane's request log
(``/_emulator/requests``) and what each version's agent process wrote (``/_emulator/output``).
Both need the emulator's admin token, which the session passes as ``headers``."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from ..core.errors import NotFoundError, ResourceFailedError
from ..core.logs import LogQuery
from ..core.secrets import Secret


class EmulatorLogs:
    def __init__(self, url: str, *, headers: Mapping[str, Secret] | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout

    def requests(self, query: LogQuery, *, since: float | None = None, limit: int = 1000) -> list[dict]:
        """Request-log records of the runtime from ``since`` (default the query's), oldest first."""
        params = {"runtime": query.runtime, "since": query.since if since is None else since, "limit": limit}
        if query.version:
            params["version"] = query.version
        if query.errors:
            params["outcome"] = "fail"
        return self._get("/_emulator/requests", params)

    def metric(self, query: str, since: float, until: float, *, runtime: str) -> tuple[float | None, int]:
        """A custom metric's ``(value, samples)``: the query (in the subset of
        :mod:`..core.metric_query`) answered over ``runtime``'s request log of ``[since, until)``."""
        from ..core.metric_query import parse, request_rows

        records = self._get("/_emulator/requests", {"runtime": runtime, "since": since, "until": until})
        return parse(query).answer(request_rows(records))

    def output(self, query: LogQuery) -> list[dict]:
        """``[{version, lines}]``: the end of each version's agent output (one version if named)."""
        params = {"runtime": query.runtime, "lines": query.lines}
        if query.version:
            params["version"] = query.version
        return self._get("/_emulator/output", params)

    def _get(self, path: str, params: dict) -> Any:
        request = urllib.request.Request(f"{self.url}{path}?{urllib.parse.urlencode(params)}",
                                         headers={k: v.reveal() for k, v in self.headers.items()})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise NotFoundError(f"runtime {params['runtime']!r} does not exist on the local emulator.") from None
            raise ResourceFailedError(f"the local emulator answered {path} with HTTP {exc.code}.") from None
        except (OSError, ValueError) as exc:
            raise ResourceFailedError(f"could not read {path} from the local emulator: {exc}.") from None
