"""GitHub Actions secrets (repository or environment scope) as a sink.

As GitHub documents: GET the scope's public key, encrypt each value with a libsodium sealed box
(PyNaCl ``SealedBox`` over the base64 key), PUT ``{encrypted_value, key_id}``. Each scope has its
own key, so it is fetched fresh for every write. Values cannot be read back (GitHub returns only
names and timestamps). The token needs secrets write access: the workflow's own ``GITHUB_TOKEN``
cannot write secrets, by design, so use a fine-grained token or an app token.
"""

from __future__ import annotations

import base64
from typing import Mapping

from nacl import encoding, public

from ...core.secrets import Secret
from ...core.sinks import SinkSpec, token
from .http import Api


class GitHubSink:
    def __init__(self, spec: SinkSpec, environ: Mapping[str, str]) -> None:
        self.name = spec.name
        self.names = (spec["id_var"], spec["secret_var"])
        scope = f"/repos/{spec['repo']}"
        self.scope = scope + (f"/environments/{spec['environment']}" if spec["environment"] else "/actions")
        tok = token(spec, environ)
        self.api = Api(spec["api_url"], {"Authorization": f"Bearer {tok.reveal()}",
                                          "Accept": "application/vnd.github+json",
                                          "X-GitHub-Api-Version": "2022-11-28"}, what="GitHub")

    def _public_key(self) -> tuple[str, public.PublicKey]:
        doc = self.api.json("GET", f"{self.scope}/secrets/public-key")
        return doc["key_id"], public.PublicKey(doc["key"].encode(), encoding.Base64Encoder)

    def preflight(self) -> None:
        self._public_key()

    def write(self, key_id: str, secret: Secret) -> None:
        for name, value in zip(self.names, (key_id, secret.reveal())):
            box_id, key = self._public_key()
            sealed = base64.b64encode(public.SealedBox(key).encrypt(value.encode())).decode()
            self.api.call("PUT", f"{self.scope}/secrets/{name}", json={"encrypted_value": sealed, "key_id": box_id})

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        return None
