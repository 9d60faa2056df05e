"""GitLab CI/CD variables (project or group) as a sink.

Updated with ``PUT /projects/:id/variables/:key`` (created with ``POST`` when absent), the value
in the request body, never the query string (it would reach access logs), and
``filter[environment_scope]`` so the same key in several scopes is not ambiguous. Masked and
protected as the sink says; the value is read back with ``GET``. Token: ``PRIVATE-TOKEN``.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import quote

from ...core.secrets import Secret
from ...core.sinks import SinkSpec, token
from .http import Api


class GitLabSink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.names = (spec["id_var"], spec["secret_var"])
        kind, target = ("projects", spec["project"]) if spec["project"] else ("groups", spec["group"])
        self.base = f"/{kind}/{quote(str(target), safe='')}/variables"
        self.scope = spec["environment_scope"]
        self.flags = {"masked": bool(spec["masked"]), "protected": bool(spec["protected"]),
                      "environment_scope": self.scope, "raw": True}
        tok = token(spec, environ)
        self.api = Api(spec["url"].rstrip("/") + "/api/v4", {"PRIVATE-TOKEN": tok.reveal()}, what="GitLab")

    def _filter(self) -> dict:
        return {"filter[environment_scope]": self.scope}

    def preflight(self) -> None:
        self.api.call("GET", self.base, params={"per_page": 1})

    def write(self, key_id: str, secret: Secret) -> None:
        for name, value in zip(self.names, (key_id, secret.reveal())):
            body = {"value": value, **self.flags}
            if self.api.call("PUT", f"{self.base}/{name}", params=self._filter(), json=body, missing_ok=True) is None:
                self.api.call("POST", self.base, json={"key": name, **body})

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        got = []
        for name in self.names:
            response = self.api.call("GET", f"{self.base}/{name}", params=self._filter(), missing_ok=True)
            got.append(response.json().get("value") if response is not None else None)
        if None in got:  # masked_and_hidden variables are never shown again
            return None if got[0] == key_id else False
        return got == [key_id, secret.reveal()]
