"""Workspaces (``/2025-09-10/workspaces``): what a runtime's ``workspaceId`` names.

Every account has a default workspace; a runtime created without ``workspaceId`` lives there,
and ``ListAgentRuntimes`` with ``workspaceId`` lists only that workspace's runtimes (the devsapp
component looks runtimes up in the default workspace). A ``workspaceId`` naming no workspace is
a 400. The list's shape is the SDK's ``ListWorkspacesOutput``: ``{workspaces, pageNumber,
pageSize, total}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .auth import ApiError
from .endpoints import NAME, invalid, page
from .state import new_id, now_iso, public

if TYPE_CHECKING:
    from .state import State

WORKSPACES = "/2025-09-10/workspaces"
DEFAULT = "default"


class WorkspaceRoutes:
    """Mixed into the control plane, which provides ``state``."""

    state: State

    def workspace_routes(self) -> list[tuple[str, str, object]]:
        return [("POST", WORKSPACES, self.create_workspace), ("GET", WORKSPACES, self.list_workspaces)]

    def _workspaces(self) -> dict[str, dict]:
        if not self.state.workspaces:
            self._add_workspace(DEFAULT, "the account's default workspace", default=True)
        return self.state.workspaces

    def _add_workspace(self, name: str, description: str, default: bool = False) -> dict:
        ident = f"ws-{new_id()[:18]}"
        record = {"workspaceId": ident, "name": name, "description": description, "isDefault": default,
                  "workspaceArn": f"acs:agentrun:local:{self.state.account.get('id', '')}:workspaces/{ident}",
                  "createdAt": now_iso(), "updatedAt": now_iso()}
        self.state.workspaces[ident] = record
        self.state.save()
        return record

    def workspace_of(self, body: dict, runtime: dict | None = None) -> str:
        """The workspace id a runtime create/update names (the default one if none), or a 400."""
        spaces = self._workspaces()
        wanted = body.get("workspaceId") or (runtime or {}).get("workspaceId")
        if not wanted:
            return next(w["workspaceId"] for w in spaces.values() if w["isDefault"])
        if not isinstance(wanted, str) or wanted not in spaces:
            raise invalid(f"workspaceId {wanted!r} is not a workspace of this account (an id such as "
                          f"{next(iter(spaces))!r}; a name must be resolved to its id first).")
        return wanted

    async def create_workspace(self, request, body: dict) -> dict:
        name = body.get("name") or ""
        if not NAME.match(name):
            raise invalid(f"name {name!r} is invalid: letters, digits, '_' and '-', starting with a letter.")
        if any(w["name"] == name for w in self._workspaces().values()):
            raise ApiError(409, "ERR_CONFLICT", f"Workspace {name} already exists.")
        return public(self._add_workspace(name, body.get("description") or ""))

    async def list_workspaces(self, request, body: dict) -> dict:
        q = request.query
        items = [public(w) for w in self._workspaces().values() if not q.get("name") or w["name"] == q["name"]]
        listed = page(q, sorted(items, key=lambda w: w["createdAt"]))
        return {"workspaces": listed.pop("items"), **listed}
