"""GitHub Actions secrets (repository or environment scope) as a sink.

As GitHub documents: GET the scope's public key, encrypt each value with a libsodium sealed box
(PyNaCl ``SealedBox`` over the base64 key), PUT ``{encrypted_value, key_id}``. Each scope has its
own key, so it is fetched fresh for every write. The key is one secret (``<id>:<secret>``, see
:mod:`agentrun_tasks.core.sinks`), so one PUT replaces it whole; separate id/secret secrets the
scope already has (listed by name) are updated after it. The environment name is
URL-encoded in the path (``/`` is ``%2F``). Values cannot be read back (GitHub returns only names
and timestamps). The token needs secrets write access: the workflow's own ``GITHUB_TOKEN``
cannot write secrets, by design, so use a fine-grained token or an app token.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import quote

from nacl import encoding, public

from ...core.secrets import Secret
from ...core.sinks import SinkSpec, pair_writes, token
from .http import Api


class GitHubSink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.spec = spec
        scope = f"/repos/{spec['repo']}"
        self.scope = scope + (f"/environments/{quote(spec['environment'], safe='')}" if spec["environment"]
                              else "/actions")
        tok = token(spec, environ)
        self.api = Api(spec["api_url"], {"Authorization": f"Bearer {tok.reveal()}",
                                          "Accept": "application/vnd.github+json",
                                          "X-GitHub-Api-Version": "2022-11-28"}, what="GitHub")

    def _public_key(self) -> tuple[str, public.PublicKey]:
        doc = self.api.json("GET", f"{self.scope}/secrets/public-key")
        return doc["key_id"], public.PublicKey(doc["key"].encode(), encoding.Base64Encoder)

    def preflight(self) -> None:
        self._public_key()

    def _names(self) -> set[str]:
        names, page = set(), 1
        while True:
            found = self.api.json("GET", f"{self.scope}/secrets", params={"per_page": 100, "page": page})
            names |= {s["name"] for s in found.get("secrets", [])}
            if len(found.get("secrets", [])) < 100:
                return names
            page += 1

    def write(self, key_id: str, secret: Secret) -> None:
        box_id, key = self._public_key()
        for name, value in pair_writes(self.spec, key_id, secret, self._names()):
            sealed = base64.b64encode(public.SealedBox(key).encrypt(value.encode())).decode()
            self.api.call("PUT", f"{self.scope}/secrets/{name}", json={"encrypted_value": sealed, "key_id": box_id})

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        return None

    def held_id(self) -> str | None:
        return None
