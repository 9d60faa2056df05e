"""GitLab CI/CD variables (project or group) as a sink.

The key is one variable, ``<id>:<secret>`` (see :mod:`agentrun_tasks.core.sinks`), so one request
replaces it whole. It is updated with ``PUT .../variables/:key`` or created with ``POST`` when the
scope has none, the value in the request body, never the query string (it would reach access
logs), and ``filter[environment_scope]`` so the same key in several scopes is not ambiguous.
GitLab ignores that filter on *group* variables before 16.9 and then updates whichever scope
comes first, so the sink reads before it writes: the group's variables are listed, and when the
key exists in another scope too, a GitLab older than 16.9 (``GET /version``) is refused before
anything changes. Masked and protected as the sink says; the value is read back with ``GET``.
Token: ``PRIVATE-TOKEN``.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import quote

from ...core.credentials import join_pair, split_pair
from ...core.errors import ConfigError
from ...core.secrets import Secret
from ...core.sinks import SinkSpec, token
from .http import Api

SCOPED_GROUP_FILTER = (16, 9)  # the first GitLab that honours filter[environment_scope] on group variables


class GitLabSink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.var = spec["pair_var"]
        self.group = not spec["project"]
        kind, target = ("groups", spec["group"]) if self.group else ("projects", spec["project"])
        self.base = f"/{kind}/{quote(str(target), safe='')}/variables"
        self.scope = spec["environment_scope"]
        self.flags = {"masked": bool(spec["masked"]), "protected": bool(spec["protected"]),
                      "environment_scope": self.scope, "raw": True}
        tok = token(spec, environ)
        self.api = Api(spec["url"].rstrip("/") + "/api/v4", {"PRIVATE-TOKEN": tok.reveal()}, what="GitLab")

    def _filter(self) -> dict:
        return {"filter[environment_scope]": self.scope}

    def _scopes(self) -> list[str]:
        """The environment scopes that hold the key now (every page of the list)."""
        scopes, page = [], 1
        while True:
            response = self.api.call("GET", self.base, params={"per_page": 100, "page": page})
            assert response is not None
            scopes += [v.get("environment_scope", "*") for v in response.json() if v.get("key") == self.var]
            if not response.headers.get("x-next-page"):
                return scopes
            page = int(response.headers["x-next-page"])

    def _check_group_filter(self, scopes: list[str]) -> None:
        if not self.group or not [s for s in scopes if s != self.scope]:
            return  # a project, or no other scope to confuse ours with
        version = self.api.json("GET", "/version").get("version", "0")
        found = tuple(int(p) if p.isdigit() else 0 for p in version.split("-")[0].split(".")[:2])
        if found < SCOPED_GROUP_FILTER:
            raise ConfigError(f"The {self.name} sink's group holds {self.var} in other environment scopes too, and "
                              f"this GitLab ({version}) ignores the scope filter on group variables before 16.9: an "
                              "update could change another scope's value. Give the variable another name (pair_var) "
                              "or upgrade GitLab. Nothing was changed.")

    def preflight(self) -> None:
        self._check_group_filter(self._scopes())

    def write(self, key_id: str, secret: Secret) -> None:
        scopes = self._scopes()
        self._check_group_filter(scopes)
        body = {"value": join_pair(key_id, secret.reveal()), **self.flags}
        if self.scope in scopes:
            self.api.call("PUT", f"{self.base}/{self.var}", params=self._filter(), json=body)
        else:
            self.api.call("POST", self.base, json={"key": self.var, **body})

    def _value(self) -> str | None:
        response = self.api.call("GET", f"{self.base}/{self.var}", params=self._filter(), missing_ok=True)
        return response.json().get("value") if response is not None else None

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        if self.scope not in self._scopes():
            return False
        value = self._value()
        if value is None:  # masked_and_hidden variables are never shown again
            return None
        return value == join_pair(key_id, secret.reveal())

    def held_id(self) -> str | None:
        pair = split_pair(self._value()) if self.scope in self._scopes() else None
        return pair[0] if pair else None
