"""``rotate-keys`` over what the session opened: the RAM user, the sinks, the state store, and the
checks that come before a run (an environment that assumes a role has no key to rotate; a key
another rotation has just deactivated is that rotation's doing, not a credentials problem)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Protocol

from ..core.errors import AgentrunTasksError, BusyError, ConfigError, CredentialError
from ..core.federation import plan as role_plan
from ..core.ports import Workspace
from .rotation import Outcome, Rotation, plan, rotate, rotation_running

if TYPE_CHECKING:
    from ..adapters.ram_keys import RamKeys
    from ..core.ports import StateStore
    from ..core.rotation import Options
    from ..core.secrets import Secret
    from ..core.sinks import Sink


class RotationSession(Workspace, Protocol):
    """What a rotation asks of the session besides the workspace's state store and credentials."""

    def ram_keys(self) -> RamKeys: ...
    def sinks(self) -> Sequence[Sink]: ...
    def use_key(self, key_id: str, secret: Secret) -> StateStore: ...


def refuse_roles(session: Workspace) -> None:
    """A role's credentials are temporary: nothing to rotate here (exit 2, nothing changed)."""
    role = role_plan(session.env, session.ci, session.environ)
    if role is None:
        return
    if role.provider_arn:
        why = "it holds no AccessKey: its OIDC token is exchanged for temporary credentials on each run"
    else:
        why = "its key only assumes the role; rotate that key with an environment that uses it directly"
    raise ConfigError(f"Environment '{session.env.name}' assumes {role.role_arn} ({role.origin}), so there is "
                      f"nothing to rotate: {why}. Nothing was changed.")


def rotate_session(session: RotationSession, options: Options, *, dry_run: bool, verify_timeout: float,
                   reopened: Callable[[], StateStore]) -> Outcome:
    """Run the rotation of the environment's RAM user to its next resting point (``dry_run``: its
    plan). ``reopened()`` is the state store of the environment opened afresh, with the key it
    resolves *now* (a rotation that has written ``.env.<env>`` or the keyring already)."""
    ram = session.ram_keys()
    try:
        user = session.env.credentials.ram_user or ram.caller_user()
        ram.require_user(user)
    except CredentialError as refused:  # a key another rotation has just deactivated: that run's doing?
        busy = _running_elsewhere(session, reopened)
        if busy is not None:
            raise busy from None
        if ".Inactive" in str(refused):
            raise CredentialError(f"{refused} This environment's key is inactive: a rotation deactivates the old "
                                  "key once every sink has the new one. If one is running, wait for it; "
                                  "otherwise use the new key the sinks hold.") from None
        raise
    run = Rotation(user=user, ram=ram, store=session.state_store(), sinks=session.sinks(),
                   credentials=session.credentials(), ci=session.ci, reporter=session.reporter, options=options,
                   verify_timeout=verify_timeout, rekey=session.use_key)
    return plan(run) if dry_run else rotate(run)


def _running_elsewhere(session: Workspace, reopened: Callable[[], StateStore]) -> BusyError | None:
    """The BusyError of a rotation that holds this environment's RAM user now, if the state store
    can still be read: with the key the environment resolves now, else with the one this run
    started with."""
    for store in (reopened, session.state_store):
        try:
            found = rotation_running(store(), datetime.now(timezone.utc), session.ci)
        except AgentrunTasksError:
            continue
        if found is not None:
            return found
    return None
