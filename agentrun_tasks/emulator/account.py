"""The emulator's own RAM account: its bootstrap on first start and the AccessKey rules.

The first start creates a 16-digit account id, the RAM user ``local-deployer`` and one
AccessKey, and writes them into ``<root>/.env.local`` (mode 0600, other lines kept) as
``ALIYUN_ACCESS_KEY_ID_LOCAL``, ``ALIYUN_ACCESS_KEY_SECRET_LOCAL`` and ``ALIYUN_ACCOUNT_ID_LOCAL``,
where the ``local`` environment's credential chain finds them. The secret is never printed.
Every key of the account may call every operation: the local account has no RAM policies.
"""

from __future__ import annotations

import secrets as _random
import string
from pathlib import Path

from dotenv import dotenv_values

from ..core.credentials import write_dotenv
from ..core.secrets import Secret
from .auth import ApiError
from .state import State, now_iso

BOOTSTRAP_USER = "local-deployer"
MAX_KEYS_PER_USER = 2  # the cloud's limit
ENV_FILE = ".env.local"
ENV_ID, ENV_SECRET, ENV_ACCOUNT = ("ALIYUN_ACCESS_KEY_ID_LOCAL", "ALIYUN_ACCESS_KEY_SECRET_LOCAL",
                                   "ALIYUN_ACCOUNT_ID_LOCAL")
_ALNUM = string.ascii_letters + string.digits


def _random_text(length: int) -> str:
    return "".join(_random.choice(_ALNUM) for _ in range(length))


def bootstrap(state: State) -> bool:
    """Create the account, its user and first key if the state has none. True if it did."""
    if state.account:
        return False
    state.account = {"id": str(_random.randbelow(9 * 10**15) + 10**15), "createdAt": now_iso()}
    state.users[BOOTSTRAP_USER] = {"UserId": str(_random.randbelow(9 * 10**15) + 10**15),
                                   "CreateDate": now_iso()}
    key_id, secret = create_key(state, BOOTSTRAP_USER)
    write_dotenv(state.root / ENV_FILE, {ENV_ID: key_id, ENV_SECRET: secret, ENV_ACCOUNT: state.account["id"]})
    state.save()
    return True


def create_key(state: State, user: str) -> tuple[str, Secret]:
    """A new Active key for ``user`` (the caller saves the state)."""
    if user not in state.users:
        raise ApiError(404, "EntityNotExist.User", f"The user does not exist: {user}.")
    owned = [k for k in state.keys.values() if k["user"] == user]
    if len(owned) >= MAX_KEYS_PER_USER:
        raise ApiError(409, "LimitExceeded.User.AccessKey",
                       f"The count of AccessKeys of user {user} exceeds the limit of {MAX_KEYS_PER_USER}.")
    key_id = "LTAI" + _random_text(20)
    secret = Secret(_random_text(30), source="emulator")
    stamp = now_iso()
    state.keys[key_id] = {"secret": secret.reveal(), "user": user, "status": "Active",
                          "createDate": stamp, "updateDate": stamp, "lastUsed": None}
    return key_id, secret


def user_key(state: State, user: str | None, key_id: str | None) -> dict:
    """The key record ``key_id`` of ``user``, or the cloud's not-found error."""
    if user is not None and user not in state.users:
        raise ApiError(404, "EntityNotExist.User", f"The user does not exist: {user}.")
    key = state.keys.get(key_id or "")
    if key is None or (user is not None and key["user"] != user):
        raise ApiError(404, "EntityNotExist.User.AccessKey", f"The AccessKey does not exist: {key_id}.")
    return key


def read_credentials(root: Path) -> tuple[str, Secret, str]:
    """``(access_key_id, secret, account_id)`` from ``<root>/.env.local`` (for tests and tools)."""
    # A bare ``KEY`` line reads as None: treat it as missing (KeyError), like an absent one.
    values = {k: v for k, v in dotenv_values(Path(root) / ENV_FILE, interpolate=False).items() if v is not None}
    return values[ENV_ID], Secret(values[ENV_SECRET], source=ENV_FILE), values[ENV_ACCOUNT]
