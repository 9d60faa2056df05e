"""Federation on the local account: IMS OIDC providers, RAM roles and STS role assumption.

IMS 2019-08-15 ``CreateOIDCProvider``/``GetOIDCProvider``, RAM 2015-05-01 ``CreateRole``/
``GetRole``/``AttachPolicyToRole``, STS 2015-04-01 ``AssumeRole`` (signed by a user's key) and
``AssumeRoleWithOIDC`` (anonymous: the token is the proof). Both STS calls hand out temporary
credentials: an ``STS.`` AccessKey id, a secret and a security token, kept in ``state.keys``
beside the users' keys with the role they act as and when they expire; the signature gate
(auth.py) then demands the token and refuses them once expired, as the cloud's gateway does.
"""

from __future__ import annotations

import asyncio
import re
import secrets as _random
import string
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..core import trust_policy
from ..core.errors import ConfigError
from . import oidc_token
from .auth import ApiError
from .state import State, now_iso

MIN_DURATION_S, DEFAULT_DURATION_S = 900, 3600
_SESSION_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")  # STS: ASCII only
_ROLE_ARN = re.compile(r"^acs:ram::(\d+):role/([\w.-]{1,64})$", re.IGNORECASE)
_PROVIDER_ARN = re.compile(r"^acs:ram::(\d+):oidc-provider/([\w.-]{1,128})$")
_ALNUM = string.ascii_letters + string.digits


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _account(state: State) -> str:
    return str(state.account["id"])


# -- IMS: OIDC providers ----------------------------------------------------------------------
def create_oidc_provider(state: State, caller: str, params: Mapping[str, str]) -> dict:
    name, url = params.get("OIDCProviderName", ""), params.get("IssuerUrl", "")
    if not re.match(r"^[\w.-]{1,128}$", name):
        raise ApiError(400, "InvalidParameter.OIDCProviderName", f"The OIDCProviderName is invalid: {name!r}.")
    if not url.startswith("https://"):
        raise ApiError(400, "InvalidParameter.IssuerUrl", "The IssuerUrl must start with https://.")
    fingerprints = [oidc_token.normalise_fingerprint(f) for f in params.get("Fingerprints", "").split(",") if f]
    if not fingerprints or not all(re.fullmatch(r"[0-9a-f]{40}", f) for f in fingerprints):
        raise ApiError(400, "InvalidParameter.Fingerprints", "Fingerprints must be SHA-1 fingerprints (40 hex digits).")
    client_ids = [c for c in params.get("ClientIds", "").split(",") if c]
    if not client_ids:
        raise ApiError(400, "InvalidParameter.ClientIds", "At least one client id (audience) is required.")
    if name in state.oidc_providers:
        raise ApiError(409, "EntityAlreadyExists.OIDCProvider", f"The OIDC provider {name} already exists.")
    stamp = now_iso()
    state.oidc_providers[name] = {
        "OIDCProviderName": name, "Arn": f"acs:ram::{_account(state)}:oidc-provider/{name}", "IssuerUrl": url,
        "Fingerprints": ",".join(fingerprints), "ClientIds": ",".join(client_ids),
        "Description": params.get("Description", ""), "IssuanceLimitTime": int(params.get("IssuanceLimitTime") or 12),
        "CreateDate": stamp, "UpdateDate": stamp, "GmtCreate": stamp, "GmtModified": stamp}
    state.save()
    return {"OIDCProvider": dict(state.oidc_providers[name])}


def get_oidc_provider(state: State, caller: str, params: Mapping[str, str]) -> dict:
    name = params.get("OIDCProviderName", "")
    if name not in state.oidc_providers:
        raise ApiError(404, "EntityNotExist.OIDCProvider", f"The OIDC provider does not exist: {name}.")
    return {"OIDCProvider": dict(state.oidc_providers[name])}


# -- RAM: roles -------------------------------------------------------------------------------
def create_role(state: State, caller: str, params: Mapping[str, str]) -> dict:
    name, document = params.get("RoleName", ""), params.get("AssumeRolePolicyDocument", "")
    if not re.match(r"^[\w.-]{1,64}$", name):
        raise ApiError(400, "InvalidParameter.RoleName", f"The RoleName is invalid: {name!r}.")
    try:
        trust_policy.parse(document)
    except ConfigError as exc:
        raise ApiError(400, "MalformedPolicyDocument", f"The AssumeRolePolicyDocument is malformed: {exc}") from None
    if name.lower() in (r.lower() for r in state.roles):
        raise ApiError(409, "EntityAlreadyExists.Role", f"The role already exists: {name}.")
    duration = int(params.get("MaxSessionDuration") or DEFAULT_DURATION_S)
    if not MIN_DURATION_S * 4 <= duration <= 43200:
        raise ApiError(400, "InvalidParameter.MaxSessionDuration", "MaxSessionDuration must be 3600 to 43200.")
    stamp = now_iso()
    state.roles[name] = {
        "RoleName": name, "RoleId": str(_random.randbelow(9 * 10**18) + 10**18),
        "Arn": f"acs:ram::{_account(state)}:role/{name.lower()}", "AssumeRolePolicyDocument": document,
        "Description": params.get("Description", ""), "MaxSessionDuration": duration,
        "CreateDate": stamp, "UpdateDate": stamp, "_policies": []}
    state.save()
    return {"Role": _public_role(state.roles[name])}


def _public_role(role: dict) -> dict:
    return {k: v for k, v in role.items() if not k.startswith("_")}


def _role(state: State, name: str) -> dict:
    found = next((r for n, r in state.roles.items() if n.lower() == name.lower()), None)
    if found is None:
        raise ApiError(404, "EntityNotExist.Role", f"The role does not exist: {name}.")
    return found


def get_role(state: State, caller: str, params: Mapping[str, str]) -> dict:
    return {"Role": _public_role(_role(state, params.get("RoleName", "")))}


def attach_policy_to_role(state: State, caller: str, params: Mapping[str, str]) -> dict:
    role = _role(state, params.get("RoleName", ""))
    policy, kind = params.get("PolicyName", ""), params.get("PolicyType")
    if kind not in ("System", "Custom") or not policy:
        raise ApiError(400, "InvalidParameter.PolicyType", "PolicyType must be System or Custom, with a PolicyName.")
    if any(p["PolicyName"] == policy for p in role["_policies"]):
        raise ApiError(409, "EntityAlreadyExists.Role.Policy",
                       f"The policy {policy} is already attached to {role['RoleName']}.")
    role["_policies"].append({"PolicyName": policy, "PolicyType": kind, "AttachDate": now_iso()})
    state.save()
    return {}


# -- STS ----------------------------------------------------------------------------------------
def _target_role(state: State, params: Mapping[str, str]) -> dict:
    arn = params.get("RoleArn", "")
    match = _ROLE_ARN.match(arn)
    if not match:
        raise ApiError(400, "InvalidParameter.RoleArn", f"The parameter RoleArn is wrongly formed: {arn!r}.")
    if match.group(1) != _account(state):
        raise ApiError(404, "EntityNotExist.Role", f"The specified Role not exists: {arn}.")
    try:
        return _role(state, match.group(2))
    except ApiError:
        raise ApiError(404, "EntityNotExist.Role", f"The specified Role not exists: {arn}.") from None


def _duration(role: dict, params: Mapping[str, str]) -> int:
    raw = params.get("DurationSeconds") or str(DEFAULT_DURATION_S)
    if not raw.isdigit() or not MIN_DURATION_S <= int(raw) <= int(role["MaxSessionDuration"]):
        raise ApiError(400, "InvalidParameter.DurationSeconds",
                       f"DurationSeconds must be {MIN_DURATION_S} to the role's MaxSessionDuration "
                       f"({role['MaxSessionDuration']}), not {raw}.")
    return int(raw)


def _session_name(params: Mapping[str, str]) -> str:
    name = params.get("RoleSessionName", "")
    if not _SESSION_NAME.match(name):
        raise ApiError(400, "InvalidParameter.RoleSessionName",
                       "RoleSessionName must be 2 to 64 letters, digits, '.', '@', '-' or '_'.")
    return name


def _issue(state: State, role: dict, session: str, duration: int, now: float) -> dict:
    """New temporary credentials for ``role`` (expired ones are dropped first)."""
    for key_id in [k for k, v in state.keys.items() if v.get("_expires") and v["_expires"] <= now]:
        del state.keys[key_id]
    key_id = "STS." + "".join(_random.choice(_ALNUM) for _ in range(24))
    secret = "".join(_random.choice(_ALNUM) for _ in range(44))
    token = "CAIS" + _random.token_urlsafe(180)
    expires = now + duration
    state.keys[key_id] = {"secret": secret, "user": None, "status": "Active", "role": role["RoleName"],
                          "session": session, "securityToken": token, "_expires": expires,
                          "createDate": _iso(now), "updateDate": _iso(now), "lastUsed": None}
    state.save()
    return {"Credentials": {"AccessKeyId": key_id, "AccessKeySecret": secret, "SecurityToken": token,
                            "Expiration": _iso(expires)},
            "AssumedRoleUser": {"Arn": f"{role['Arn']}/{session}", "AssumedRoleId": f"{role['RoleId']}:{session}"}}


def assume_role(state: State, caller: str, params: Mapping[str, str]) -> dict:
    """AssumeRole as a RAM user: the trust policy must name the account or the user (and the
    ``sts:ExternalId`` it asks for)."""
    role = _target_role(state, params)
    session, duration = _session_name(params), _duration(role, params)
    user = state.keys[caller].get("user")
    if user is None:
        raise ApiError(403, "NoPermission", "Roles may not be assumed with temporary credentials here.")
    account = _account(state)
    principals = {"RAM": {f"acs:ram::{account}:root", account, f"acs:ram::{account}:user/{user}"}}
    context = {"sts:ExternalId": [params["ExternalId"]] if params.get("ExternalId") else []}
    if not trust_policy.allows(role["AssumeRolePolicyDocument"], principals, context):
        raise ApiError(403, "NoPermission", f"You are not authorized to assume the role {role['Arn']}.")
    return _issue(state, role, session, duration, time.time())


async def assume_role_with_oidc(state: State, params: Mapping[str, str],
                                keys_of: Callable[[str, list[str]], dict] = oidc_token.issuer_keys) -> dict:
    """AssumeRoleWithOIDC: the provider's issuer is fetched off the event loop; every documented
    check is made before anything is issued."""
    token = params.get("OIDCToken", "")
    oidc_token.unverified_header(token)
    provider_arn = params.get("OIDCProviderArn", "")
    match = _PROVIDER_ARN.match(provider_arn)
    provider = state.oidc_providers.get(match.group(2)) if match and match.group(1) == _account(state) else None
    if provider is None:
        raise ApiError(401, "AuthenticationFail.NoPermission", "No such OIDC Provider registered.")
    role = _target_role(state, params)
    session, duration = _session_name(params), _duration(role, params)
    jwks = await asyncio.to_thread(keys_of, provider["IssuerUrl"], provider["Fingerprints"].split(","))
    now = time.time()
    claims = oidc_token.verify(token, provider, jwks, now)
    if not trust_policy.allows(role["AssumeRolePolicyDocument"], {"Federated": {provider["Arn"]}},
                               trust_policy.oidc_context(claims)):
        raise ApiError(401, "AuthenticationFail.NoPermission", "There is no permission")
    issued = _issue(state, role, session, duration, now)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    issued["OIDCTokenInfo"] = {"Issuer": claims["iss"], "Subject": claims.get("sub", ""),
                               "ClientIds": ",".join(audiences), "ExpirationTime": _iso(claims["exp"]),
                               "IssuanceTime": _iso(claims.get("iat") or now), "VerificationInfo": "Success"}
    return issued


def role_identity(state: State, key: dict) -> dict:
    """GetCallerIdentity for temporary credentials: the assumed role's session."""
    role = state.roles.get(key["role"]) or {}
    return {"AccountId": _account(state), "Arn": f"{role.get('Arn', '')}/{key['session']}",
            "IdentityType": "AssumedRoleUser", "PrincipalId": f"{role.get('RoleId', '')}:{key['session']}",
            "UserId": "", "RoleId": role.get("RoleId", "")}


ACTIONS: dict[tuple[str, str], Callable[[State, str, Mapping[str, str]], dict]] = {
    ("2019-08-15", "CreateOIDCProvider"): create_oidc_provider,
    ("2019-08-15", "GetOIDCProvider"): get_oidc_provider,
    ("2015-05-01", "CreateRole"): create_role,
    ("2015-05-01", "GetRole"): get_role,
    ("2015-05-01", "AttachPolicyToRole"): attach_policy_to_role,
    ("2015-04-01", "AssumeRole"): assume_role,
}
# Called without a signature (the SDK's auth_type 'Anonymous'): the OIDC token is the proof.
ANONYMOUS: dict[tuple[str, str], Any] = {("2015-04-01", "AssumeRoleWithOIDC"): assume_role_with_oidc}

