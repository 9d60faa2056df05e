"""The data plane's API keys: AgentRun's "credentials" (``/2025-09-10/agents/credentials``), what
a runtime's ``credentialName`` names. Not AccessKeys (those are :mod:`agentrun_tasks.core.credentials`).

A runtime created with ``credentialName`` is called with the credential's secret in
``X-API-Key`` (or ``credentialPublicConfig.headerKey``); the data plane checks it. The secret
is kept in a private field and never shown by GET. A second create of one name answers 500
"already exists", the status agentrun-sdk notes for some resources (``to_resource_error``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .auth import ApiError
from .endpoints import NAME, invalid
from .state import now_iso, public

if TYPE_CHECKING:
    from .state import State

CREDENTIALS = "/2025-09-10/agents/credentials"


class ApiKeyRoutes:
    """Mixed into the control plane, which provides ``state``."""

    state: State

    def credential_routes(self) -> list[tuple[str, str, object]]:
        return [("POST", CREDENTIALS, self.create_credential),
                ("GET", CREDENTIALS + "/{credentialName}", self.get_credential)]

    async def create_credential(self, request, body: dict) -> dict:
        name = body.get("credentialName") or ""
        if not NAME.match(name):
            raise invalid(f"credentialName {name!r} is invalid: letters, digits, '_' and '-', starting with a letter.")
        if name in self.state.credentials:
            raise ApiError(500, "ERR_INTERNAL_SERVER_ERROR", f"Credential {name} already exists.")
        if not body.get("credentialSecret"):
            raise invalid("credentialSecret is required for an api_key credential.")
        record = {"credentialName": name, "credentialAuthType": body.get("credentialAuthType") or "api_key",
                  "credentialSourceType": body.get("credentialSourceType") or "internal",
                  "credentialPublicConfig": body.get("credentialPublicConfig") or {},
                  "description": body.get("description") or "", "enabled": body.get("enabled", True),
                  "createdAt": now_iso(), "_secret": str(body["credentialSecret"])}
        self.state.credentials[name] = record
        self.state.save()
        return public(record)

    async def get_credential(self, request, body: dict) -> dict:
        name = request.match_info["credentialName"]
        record = self.state.credentials.get(name)
        if record is None:
            raise ApiError(404, "ERR_NOT_FOUND", f"Credential {name} does not exist.")
        return public(record)
