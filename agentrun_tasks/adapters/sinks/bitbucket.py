"""Bitbucket Pipelines variables (repository, or a deployment environment's) as a sink.

Variables are found by key in the (paginated) list, updated with ``PUT .../variables/{uuid}`` or
created with ``POST``: one variable, ``<id>:<secret>``, so one request replaces the key whole (then
separate id/secret variables, where they exist); always
``secured`` (Bitbucket then never returns the value, so nothing is
read back). Auth: a repository or workspace access token (``Bearer``) from ``BITBUCKET_TOKEN``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...core.secrets import Secret
from ...core.sinks import SinkSpec, pair_writes, token
from .http import Api


class BitbucketSink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.spec, self.var = spec, spec["pair_var"]
        repo = f"/repositories/{spec['workspace']}/{spec['repo']}"
        self.base = (f"{repo}/deployments_config/environments/{spec['deployment']}/variables" if spec["deployment"]
                     else f"{repo}/pipelines_config/variables")
        tok = token(spec, environ)
        self.api = Api(spec["api_url"], {"Authorization": f"Bearer {tok.reveal()}"}, what="Bitbucket")

    def _existing(self) -> dict[str, dict]:
        found, url = {}, self.base
        while url:
            doc = self.api.json("GET", url, params={"pagelen": 100} if url == self.base else None)
            found.update({v["key"]: v for v in doc.get("values", [])})
            url = doc.get("next")
        return found

    def preflight(self) -> None:
        self._existing()

    def write(self, key_id: str, secret: Secret) -> None:
        existing = self._existing()
        for name, value in pair_writes(self.spec, key_id, secret, set(existing)):
            body = {"key": name, "value": value, "secured": True}
            if name in existing:
                self.api.call("PUT", f"{self.base}/{existing[name]['uuid']}", json=body)
            else:
                self.api.call("POST", self.base, json=body)

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        return None if self.var in self._existing() else False

    def held_id(self) -> str | None:
        return None
