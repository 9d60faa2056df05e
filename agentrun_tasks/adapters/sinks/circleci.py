"""CircleCI project environment variables or a context's variables (API v2) as a sink.

Project: ``POST /project/{slug}/envvar`` replaces a variable of the same name; ``GET`` returns it
masked to its last four characters, which is what is read back. Context:
``PUT /context/{id}/environment-variable/{name}`` (values are never returned). One variable,
``<id>:<secret>``, so one request replaces the key whole (then separate id/secret variables, where
they exist). Auth: the
``Circle-Token`` header from ``CIRCLECI_TOKEN``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...core.secrets import Secret
from ...core.sinks import SinkSpec, pair_writes, token
from .http import Api


class CircleCISink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.spec, self.var = spec, spec["pair_var"]
        self.project, self.context = spec["project"], spec["context"]
        tok = token(spec, environ)
        self.api = Api(spec["api_url"], {"Circle-Token": tok.reveal()}, what="CircleCI")

    def _list_path(self) -> str:
        return (f"/project/{self.project}/envvar" if self.project
                else f"/context/{self.context}/environment-variable")

    def preflight(self) -> None:
        self.api.call("GET", self._list_path())

    def _names(self) -> set[str]:
        names, page_token = set(), None
        while True:
            doc = self.api.json("GET", self._list_path(), params={"page-token": page_token} if page_token else None)
            names |= {item.get("name") or item.get("variable") for item in doc.get("items", [])}
            page_token = doc.get("next_page_token")
            if not page_token:
                return names

    def write(self, key_id: str, secret: Secret) -> None:
        for name, value in pair_writes(self.spec, key_id, secret, self._names()):
            if self.project:
                self.api.call("POST", f"/project/{self.project}/envvar", json={"name": name, "value": value})
            else:
                self.api.call("PUT", f"/context/{self.context}/environment-variable/{name}", json={"value": value})

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        if not self.project:
            return None
        response = self.api.call("GET", f"/project/{self.project}/envvar/{self.var}", missing_ok=True)
        shown = response.json().get("value", "") if response is not None else ""
        # CircleCI masks values as "xxxx" + their last four characters (the secret's).
        return bool(shown) and shown.endswith(secret.reveal()[-4:])

    def held_id(self) -> str | None:
        return None
