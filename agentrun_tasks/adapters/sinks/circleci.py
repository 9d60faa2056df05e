"""CircleCI project environment variables or a context's variables (API v2) as a sink.

Project: ``POST /project/{slug}/envvar`` replaces a variable of the same name; ``GET`` returns it
masked to its last four characters, which is what is read back. Context:
``PUT /context/{id}/environment-variable/{name}`` (values are never returned). One variable,
``<id>:<secret>``, so one request replaces the key whole. Auth: the
``Circle-Token`` header from ``CIRCLECI_TOKEN``.
"""

from __future__ import annotations

from typing import Mapping

from ...core.credentials import join_pair
from ...core.secrets import Secret
from ...core.sinks import SinkSpec, token
from .http import Api


class CircleCISink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.var = spec["pair_var"]
        self.project, self.context = spec["project"], spec["context"]
        tok = token(spec, environ)
        self.api = Api(spec["api_url"], {"Circle-Token": tok.reveal()}, what="CircleCI")

    def _list_path(self) -> str:
        return (f"/project/{self.project}/envvar" if self.project
                else f"/context/{self.context}/environment-variable")

    def preflight(self) -> None:
        self.api.call("GET", self._list_path())

    def write(self, key_id: str, secret: Secret) -> None:
        value = join_pair(key_id, secret.reveal())
        if self.project:
            self.api.call("POST", f"/project/{self.project}/envvar", json={"name": self.var, "value": value})
        else:
            self.api.call("PUT", f"/context/{self.context}/environment-variable/{self.var}", json={"value": value})

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        if not self.project:
            return None
        response = self.api.call("GET", f"/project/{self.project}/envvar/{self.var}", missing_ok=True)
        shown = response.json().get("value", "") if response is not None else ""
        # CircleCI masks values as "xxxx" + their last four characters (the secret's).
        return bool(shown) and shown.endswith(secret.reveal()[-4:])

    def held_id(self) -> str | None:
        return None
