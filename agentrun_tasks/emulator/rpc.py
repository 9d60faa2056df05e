"""RAM 2015-05-01 and STS 2015-04-01 over RPC: ``POST /`` routed on ``x-acs-action``.

Parameters arrive in the query string, answers are ``{"RequestId", ...}`` JSON with the
cloud's capitalised field names. Every handler takes ``(state, caller_key_id, params)`` and
returns the body without ``RequestId``; the server adds it and saves nothing: handlers that
change state save it themselves.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import account, federation
from .auth import ApiError
from .state import State, now_iso


def _caller_user(state: State, caller: str) -> str:
    return state.keys[caller]["user"]


def _user(state: State, caller: str, params: Mapping[str, str]) -> str:
    """``UserName``, defaulting to the caller's own user as RAM does."""
    return params.get("UserName") or _caller_user(state, caller)


def create_access_key(state: State, caller: str, params: Mapping[str, str]) -> dict:
    key_id, secret = account.create_key(state, _user(state, caller, params))
    state.save()
    key = state.keys[key_id]
    return {"AccessKey": {"AccessKeyId": key_id, "AccessKeySecret": secret.reveal(),
                          "CreateDate": key["createDate"], "Status": key["status"]}}


def list_access_keys(state: State, caller: str, params: Mapping[str, str]) -> dict:
    user = _user(state, caller, params)
    if user not in state.users:
        raise ApiError(404, "EntityNotExist.User", f"The user does not exist: {user}.")
    keys = [{"AccessKeyId": key_id, "Status": k["status"], "CreateDate": k["createDate"],
             "UpdateDate": k["updateDate"]}
            for key_id, k in sorted(state.keys.items(), key=lambda item: item[1]["createDate"])
            if k["user"] == user]
    return {"AccessKeys": {"AccessKey": keys}}


def update_access_key(state: State, caller: str, params: Mapping[str, str]) -> dict:
    status = params.get("Status")
    if status not in ("Active", "Inactive"):
        raise ApiError(400, "InvalidParameter.Status", f"Status must be Active or Inactive, not {status!r}.")
    key = account.user_key(state, _user(state, caller, params), params.get("UserAccessKeyId"))
    key.update(status=status, updateDate=now_iso())
    state.save()
    return {}


def delete_access_key(state: State, caller: str, params: Mapping[str, str]) -> dict:
    account.user_key(state, _user(state, caller, params), params.get("UserAccessKeyId"))
    del state.keys[params["UserAccessKeyId"]]
    state.save()
    return {}


def get_access_key_last_used(state: State, caller: str, params: Mapping[str, str]) -> dict:
    key = account.user_key(state, _user(state, caller, params), params.get("UserAccessKeyId"))
    return {"AccessKeyLastUsed": {"LastUsedDate": key.get("lastUsed") or ""}}


def get_user(state: State, caller: str, params: Mapping[str, str]) -> dict:
    name = _user(state, caller, params)
    user = state.users.get(name)
    if user is None:
        raise ApiError(404, "EntityNotExist.User", f"The user does not exist: {name}.")
    return {"User": {"UserName": name, "UserId": user["UserId"], "DisplayName": name,
                     "CreateDate": user["CreateDate"], "UpdateDate": user["CreateDate"]}}


def list_policies_for_user(state: State, caller: str, params: Mapping[str, str]) -> dict:
    name = params.get("UserName", "")
    if name not in state.users:
        raise ApiError(404, "EntityNotExist.User", f"The user does not exist: {name}.")
    return {"Policies": {"Policy": list(state.users[name].get("policies", []))}}


def attach_policy_to_user(state: State, caller: str, params: Mapping[str, str]) -> dict:
    """Attach a policy by name (no policy documents: the local account enforces none)."""
    name, policy = params.get("UserName", ""), params.get("PolicyName", "")
    kind = params.get("PolicyType", "")
    if name not in state.users:
        raise ApiError(404, "EntityNotExist.User", f"The user does not exist: {name}.")
    if kind not in ("System", "Custom") or not policy:
        raise ApiError(400, "InvalidParameter.PolicyType", "PolicyType must be System or Custom, with a PolicyName.")
    attached = state.users[name].setdefault("policies", [])
    if any(p["PolicyName"] == policy for p in attached):
        raise ApiError(409, "EntityAlreadyExists.User.Policy", f"The policy {policy} is already attached to {name}.")
    attached.append({"PolicyName": policy, "PolicyType": kind, "AttachDate": now_iso(), "DefaultVersion": "v1",
                     "Description": ""})
    state.save()
    return {}


def create_policy(state: State, caller: str, params: Mapping[str, str]) -> dict:
    """A custom policy with its document (one version, v1); the local account enforces none."""
    name, document = params.get("PolicyName", ""), params.get("PolicyDocument", "")
    policies = state.account.setdefault("policies", {})
    if not name or not document:
        raise ApiError(400, "MissingParameter", "PolicyName and PolicyDocument are required.")
    if name in policies:
        raise ApiError(409, "EntityAlreadyExists.Policy", f"The policy already exists: {name}.")
    policies[name] = {"PolicyName": name, "PolicyType": "Custom", "DefaultVersion": "v1",
                      "Description": params.get("Description", ""), "CreateDate": now_iso(), "Document": document}
    state.save()
    return {"Policy": {k: v for k, v in policies[name].items() if k != "Document"}}


def get_policy(state: State, caller: str, params: Mapping[str, str]) -> dict:
    name = params.get("PolicyName", "")
    found = state.account.get("policies", {}).get(name) if params.get("PolicyType") == "Custom" else None
    if found is None:
        raise ApiError(404, "EntityNotExist.Policy", f"The policy does not exist: {name}.")
    return {"Policy": {k: v for k, v in found.items() if k != "Document"},
            "DefaultPolicyVersion": {"VersionId": "v1", "IsDefaultVersion": True, "CreateDate": found["CreateDate"],
                                     "PolicyDocument": found["Document"]}}


def get_caller_identity(state: State, caller: str, params: Mapping[str, str]) -> dict:
    if state.keys[caller].get("role"):  # temporary credentials: the assumed role's session
        return federation.role_identity(state, state.keys[caller])
    user = _caller_user(state, caller)
    user_id = state.users[user]["UserId"]
    return {"AccountId": state.account["id"], "Arn": f"acs:ram::{state.account['id']}:user/{user}",
            "IdentityType": "RAMUser", "PrincipalId": user_id, "UserId": user_id, "RoleId": ""}


ACTIONS = {
    ("2015-05-01", "CreateAccessKey"): create_access_key,
    ("2015-05-01", "ListAccessKeys"): list_access_keys,
    ("2015-05-01", "UpdateAccessKey"): update_access_key,
    ("2015-05-01", "DeleteAccessKey"): delete_access_key,
    ("2015-05-01", "GetAccessKeyLastUsed"): get_access_key_last_used,
    ("2015-05-01", "GetUser"): get_user,
    ("2015-05-01", "ListPoliciesForUser"): list_policies_for_user,
    ("2015-05-01", "AttachPolicyToUser"): attach_policy_to_user,
    ("2015-05-01", "CreatePolicy"): create_policy,
    ("2015-05-01", "GetPolicy"): get_policy,
    ("2015-04-01", "GetCallerIdentity"): get_caller_identity,
    **federation.ACTIONS,
}


def dispatch(state: State, caller: str, action: str, version: str, params: Mapping[str, str]) -> dict:
    """Run one RPC action, or the cloud's error for an unknown one."""
    handler = ACTIONS.get((version, action))
    if handler is None:
        raise ApiError(404, "InvalidAction.NotFound",
                       f"Specified api {action} (version {version or 'none'}) is not found in the local emulator.")
    return handler(state, caller, params)
