"""A Yunxiao (Alibaba Cloud DevOps) Flow variable group as a sink.

Flow's OpenAPI has no call that sets one pipeline variable, but pipelines read variable groups,
and ``UpdateVariableGroup`` (``PUT /oapi/v1/flow/[organizations/{org}/]variableGroups/{id}``,
``x-yunxiao-token``) replaces a group's variables. Because it replaces them *all* and encrypted
values are not returned, the sink needs a group of its own: it refuses a group holding other
encrypted variables it could not carry over. Both variables are written encrypted, the JSON list
in the form body (never the query string). Values of encrypted variables are not read back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ...core.errors import ConfigError
from ...core.secrets import Secret
from ...core.sinks import SinkSpec, token
from .http import Api


class YunxiaoSink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.names = (spec["id_var"], spec["secret_var"])
        org = f"/organizations/{spec['organization']}" if spec["organization"] else ""
        self.path = f"/oapi/v1/flow{org}/variableGroups/{spec['group']}"
        tok = token(spec, environ)
        self.api = Api(spec["url"], {"x-yunxiao-token": tok.reveal()}, what="Yunxiao Flow")

    def _group(self) -> dict:
        doc = self.api.json("GET", self.path)
        return doc.get("variableGroup", doc)  # the older API wraps the group

    def preflight(self) -> None:
        group = self._group()
        others = [v["name"] for v in group.get("variables") or []
                  if v["name"] not in self.names and v.get("isEncrypted")]
        if others:
            raise ConfigError(f"The {self.name} sink replaces the whole variable group, and it holds other encrypted "
                              f"variables ({', '.join(others)}) whose values Flow does not return; give the AccessKey "
                              "a variable group of its own. Nothing was changed.")

    def write(self, key_id: str, secret: Secret) -> None:
        group = self._group()
        keep = [v for v in group.get("variables") or [] if v["name"] not in self.names and not v.get("isEncrypted")]
        ours = [{"name": n, "value": v, "isEncrypted": True} for n, v in zip(self.names, (key_id, secret.reveal()))]
        about = {"name": group.get("name", ""), "description": group.get("description") or ""}
        self.api.call("PUT", self.path, params=about, data={"variables": json.dumps(keep + ours)})

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        present = {v["name"] for v in self._group().get("variables") or []}
        return None if set(self.names) <= present else False

    def held_id(self) -> str | None:
        return None  # encrypted values are not returned
