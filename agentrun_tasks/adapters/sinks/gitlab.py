"""GitLab CI/CD variables (project or group) as a sink.

The key is one variable, ``<id>:<secret>`` (see :mod:`agentrun_tasks.core.sinks`), so one request
replaces it whole (then separate id/secret variables the scope already has). It is updated with
``PUT .../variables/:key``, or created with ``POST`` when the scope has none, the value in the
request body, never the query string (it would reach access logs), and
``filter[environment_scope]`` so the same key in several scopes is not ambiguous. GitLab ignores
that filter on *group* variables before 16.9 and then updates whichever scope comes first, so the
sink reads before it writes: the group's variables are listed, and when the key exists in another
scope too, a GitLab older than 16.9 (``GET /version``) is refused before anything changes. Masked
and protected as the sink says; the value is read back with ``GET``. Token: ``PRIVATE-TOKEN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from ...core.credentials import join_pair, split_pair
from ...core.errors import ConfigError
from ...core.secrets import Secret
from ...core.sinks import SinkSpec, pair_writes, token
from .http import Api

SCOPED_GROUP_FILTER = (16, 9)  # the first GitLab that honours filter[environment_scope] on group variables


class GitLabSink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.spec, self.var = spec, spec["pair_var"]
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

    def _listing(self) -> list[tuple[str, str]]:
        """``(key, environment scope)`` of every variable there now (every page of the list)."""
        found, page = [], 1
        while True:
            response = self.api.call("GET", self.base, params={"per_page": 100, "page": page})
            assert response is not None
            found += [(v.get("key", ""), v.get("environment_scope", "*")) for v in response.json()]
            if not response.headers.get("x-next-page"):
                return found
            page = int(response.headers["x-next-page"])

    def _scopes(self) -> list[str]:
        return [scope for key, scope in self._listing() if key == self.var]

    def _check_group_filter(self, listing: list[tuple[str, str]], names: set[str]) -> None:
        clash = sorted({key for key, scope in listing if key in names and scope != self.scope})
        if not self.group or not clash:
            return  # a project, or no other scope to confuse ours with
        version = self.api.json("GET", "/version").get("version", "0")
        found = tuple(int(p) if p.isdigit() else 0 for p in version.split("-")[0].split(".")[:2])
        if found < SCOPED_GROUP_FILTER:
            raise ConfigError(f"The {self.name} sink's group holds {', '.join(clash)} in other environment scopes "
                              f"too, and this GitLab ({version}) ignores the scope filter on group variables before "
                              "16.9: an update could change another scope's value. Give the variable another name "
                              "(pair_var) or upgrade GitLab. Nothing was changed.")

    def preflight(self) -> None:
        self._check_group_filter(self._listing(), {self.var})

    def write(self, key_id: str, secret: Secret) -> None:
        listing = self._listing()
        here = {key for key, scope in listing if scope == self.scope}
        writes = pair_writes(self.spec, key_id, secret, here)
        self._check_group_filter(listing, {name for name, _ in writes})
        for name, value in writes:
            body = {"value": value, **self.flags}
            if name in here:
                self.api.call("PUT", f"{self.base}/{name}", params=self._filter(), json=body)
            else:
                self.api.call("POST", self.base, json={"key": name, **body})

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
