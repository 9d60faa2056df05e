"""``rotate-keys``: run the rotation state machine of :mod:`core.rotation` against RAM, STS and the sinks.

Each round reads the RAM user's keys *now* and the journal, asks :func:`core.rotation.decide` for
the next step, does it, and saves the journal the step produced, so a run killed between any two
lines resumes where the live state says. One rotation per RAM user at a time: the lock
``locks/rotate-<user>.json`` in the same state store (a holder whose process died is replaced).

The new key's secret lives in memory. Until the old key is deactivated, the journal also carries it sealed
(``nacl.secret.SecretBox``) under a key derived from the rotating credentials' own secret, so a
rerun with the same credentials can finish the fan-out while a reader of the state store without
them learns nothing; the sealed copy is dropped when the old key is deactivated. Once the new key is
verified, RAM is called with it (a rotation of its own key would otherwise lock itself out).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..core import lock, rotation, rotation_journal
from ..core.errors import BusyError, ConfigError, CredentialError, ResourceFailedError
from ..core.rotation import Facts, Options, Step, describe, mask_id
from ..core.rotation_journal import Journal, Key
from ..core.secrets import Secret
from ..core.sinks import Sink
from .records import Records

if TYPE_CHECKING:
    from nacl.secret import SecretBox

    from ..adapters.ram_keys import RamKeys
    from ..core.cienv import CIContext
    from ..core.ports import AccessKey, StateStore
    from ..core.report import Reporter

LOCK_TTL = 900.0
_EXIT_ERRORS = {2: ConfigError, 3: CredentialError}


@dataclass
class Rotation:
    """Everything one run needs, opened by the session."""

    user: str
    ram: RamKeys
    store: StateStore  # the release state store: the journal and the lock
    sinks: Sequence[Sink]
    credentials: AccessKey  # the environment's resolved credentials (the rotating identity)
    ci: Any  # the CI context (actor, run URL) the lock records; testing.rotation passes a stand-in
    reporter: Reporter
    options: Options = field(default_factory=Options)
    verify_timeout: float = 60.0
    # Called once the new key is verified, when the run signs with the key it rotates: everything
    # signed (the state store) must move to the new key before the old one is deactivated.
    rekey: Callable[[str, Secret], StateStore] | None = None  # -> the state store, reopened
    fault: Callable[[str, str], None] = lambda kind, when: None  # tests: fail "before"/"after" a step
    observe: Callable[[Step, Journal | None], None] = lambda step, journal: None  # tests: after each step
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Outcome:
    """What a run did, for ``--json``, the CI summary and the notification (ids masked)."""

    user: str
    result: str  # rotated | nothing-to-do | waiting | planned
    message: str
    steps: list[str]
    old_key: str = "-"
    new_key: str = "-"
    read_back: dict[str, bool | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"user": self.user, "result": self.result, "message": self.message, "steps": self.steps,
                "old_key": self.old_key, "new_key": self.new_key, "read_back": self.read_back}

    def summary(self, env: str) -> str:
        rows = "".join(f"| {name} | {_checked(ok)} |\n" for name, ok in self.read_back.items())
        table = f"\n| sink | read back |\n| --- | --- |\n{rows}" if rows else ""
        return (f"### AccessKey rotation of `{self.user}` (`{env}`): {self.result}\n\n{self.message}\n\n"
                f"old key `{self.old_key}`, new key `{self.new_key}`\n{table}")


def plan(run: Rotation) -> Outcome:
    """``--dry-run``: preflight the sinks and list the steps a run would take; nothing changes."""
    keys, journal = run.ram.list_keys(run.user), _load(run)
    facts = _facts(run, journal, run.now(), secret=True)
    steps = rotation.plan(keys, journal, facts, run.options)
    if not steps[0].stop:
        for sink in run.sinks:
            sink.preflight()
    return Outcome(run.user, "planned", steps[-1].reason, [describe(s) for s in steps])


def rotate(run: Rotation) -> Outcome:
    """Run the rotation to its next resting point (done, or the old key soaking)."""
    records = Records(run.store, f"rotate-{run.user}", run.ci, now=run.now)
    records.acquire(None, ttl=LOCK_TTL, force=False)
    try:
        return _Runner(run, records).run()
    finally:
        records.release()


def rotation_running(store: StateStore, now: datetime, ci: CIContext) -> BusyError | None:
    """The BusyError (exit 7) of a rotation a live run holds in ``store``, if any (a holder on this
    host whose process is gone is not live, as :class:`Records` judges it). A run whose key that
    rotation has already deactivated fails on its first RAM call: that is the busy environment's
    doing, not a credentials problem."""
    for key in store.list("locks/rotate-"):
        raw = store.get(key)
        try:
            holder = lock.Lock.from_json(raw) if raw else None
        except (ValueError, KeyError, TypeError):
            continue
        if holder is not None and not lock.is_stale(holder, now) and \
                not Records(store, holder.env, ci)._dead(holder):
            return BusyError("Another rotation is running: " + lock.busy_message(holder, now) + " It deactivated "
                             "the key this run started with, after its new key reached the sinks; rerun once it "
                             "is done.")
    return None


class _Runner:
    def __init__(self, run: Rotation, records: Records) -> None:
        self.r, self.records = run, records
        self.started = run.now()
        self.journal = _load(run)
        self.secret: Secret | None = None
        self.steps: list[str] = []
        self.read_back: dict[str, bool | None] = {}
        self.preflighted = False
        self._recover_secret()

    def run(self) -> Outcome:
        old = self.journal.old_id if self.journal else None
        while True:
            keys = self.r.ram.list_keys(self.r.user)
            self._use_new_key(keys)
            facts = replace(_facts(self.r, self.journal, self.r.now(), secret=self.secret is not None,
                                   started=self.started), signing_id=self.r.ram.credentials.access_key_id.reveal())
            step = rotation.decide(keys, self.journal, facts, self.r.options)
            if step.kind == "delete":  # never a key a sink holds: look at the sinks that can be read
                facts = replace(facts, held=self._held())
                step = rotation.decide(keys, self.journal, facts, self.r.options)
            if step.kind == "refuse":
                raise _EXIT_ERRORS.get(step.exit_code, ResourceFailedError)(
                    f"rotate-keys for RAM user '{self.r.user}' stopped: {step.reason}. Nothing more was changed.")
            if step.stop:
                return self._outcome(step, old)
            if not self.preflighted:
                for sink in self.r.sinks:  # every sink writable before anything changes
                    sink.preflight()
                self.preflighted = True
            self.r.reporter.line(describe(step))
            self.steps.append(describe(step))
            if step.kind == "create":
                old = (self.journal.old_id if self.journal and self.journal.phase != "done" else None) or \
                    _in_use(keys, facts)
            self._do(step, keys, facts)

    def _do(self, step: Step, keys: Sequence[Key], facts: Facts) -> None:
        self.r.fault(step.kind, "before")
        extra = {}
        if step.kind == "create":
            self._save(rotation.record(self.journal, step, facts, keys))  # the intent, before the key exists
            key_id, self.secret = self.r.ram.create_key(self.r.user)
            extra = dict(new_id=key_id, pending=self._seal(key_id, self.secret),
                         sealed_with=self.r.credentials.access_key_id.reveal())
        elif step.kind == "delete":
            assert step.key_id is not None  # decide() names the key to delete
            self.r.ram.delete_key(self.r.user, step.key_id)
            if step.key_id == (self.journal.new_id if self.journal else None):
                self.secret = None
        elif step.kind == "verify":
            self._verify(step)
        elif step.kind == "write":
            assert self.journal is not None
            assert step.sink is not None
            self._save(rotation.touch(self.journal, step.sink))  # from now on the sink may hold the new key
            self._write(step)
        elif step.kind == "wait":
            self._wait(step.until)
        elif step.kind == "deactivate" and step.key_id and any(
                k.id == step.key_id and k.status == rotation_journal.ACTIVE for k in keys):
            self.r.ram.set_status(self.r.user, step.key_id, rotation_journal.INACTIVE)
        self.r.fault(step.kind, "after")
        self._save(rotation.record(self.journal, step, replace(facts, now=self.r.now()), keys, **extra))
        self.r.observe(step, self.journal)

    def _held(self) -> frozenset[str]:
        return frozenset(i for i in (sink.held_id() for sink in self.r.sinks) if i)

    def _use_new_key(self, keys: Sequence[Key]) -> None:
        j = self.journal
        new_id = j.new_id if j is not None else None
        live = any(k.id == new_id and k.status == rotation_journal.ACTIVE for k in keys)  # not one deleted by hand
        if self.secret is not None and j and new_id and live and j.phase in ("verified", "written") and \
                self.r.ram.credentials.access_key_id.reveal() == j.old_id:
            self.r.ram.switch(new_id, self.secret)
            if self.r.rekey is not None:
                self.r.store = self.records.store = self.r.rekey(new_id, self.secret)

    def _new_key(self, step: Step) -> tuple[str, Secret]:
        # decide() asks to verify or write only a key that exists and whose secret is known
        assert step.key_id is not None
        assert self.secret is not None
        return step.key_id, self.secret

    def _verify(self, step: Step) -> None:
        key_id, secret = self._new_key(step)
        journal = self.journal
        assert journal is not None
        try:
            self.r.ram.verify(key_id, secret, timeout=self.r.verify_timeout)
        except CredentialError as exc:
            self.r.ram.delete_key(self.r.user, key_id)  # with the old key, which still works
            self._save(rotation.abandon(journal))
            raise CredentialError(f"{exc} The new key {mask_id(step.key_id)} was deleted; the old key stays in use "
                                  "and nothing else was changed.") from None

    def _write(self, step: Step) -> None:
        key_id, secret = self._new_key(step)
        sink = next(s for s in self.r.sinks if s.name == step.sink)
        sink.write(key_id, secret)
        ok = sink.read_back(key_id, secret)
        self.read_back[sink.name] = ok
        if ok is False:
            raise ResourceFailedError(f"The {sink.name} sink does not hold the new key {mask_id(step.key_id)} after "
                                      "writing it (read back differs); both keys stay active, rerun to retry.")

    def _wait(self, until: datetime | None) -> None:
        with self.r.reporter.progress("grace period before deactivating the old key") as update:
            while until and self.r.now() < until:
                left = (until - self.r.now()).total_seconds()
                update(f"{left:.0f}s left")
                self.records.refresh()
                self.r.sleep(min(left, 5.0))

    # -- the journal and the sealed secret ---------------------------------------------------------
    def _save(self, journal: Journal | None) -> None:
        self.journal = journal
        key = rotation_journal.journal_key(self.r.user)
        if journal is None:
            self.r.store.delete(key)
        else:
            self.r.store.put(key, journal.to_json())

    def _box(self, key_id: str) -> SecretBox:
        from nacl.secret import SecretBox

        secret = self.r.credentials.access_key_secret.reveal().encode()
        return SecretBox(hmac.new(secret, f"agentrun-tasks rotation {key_id}".encode(), hashlib.sha256).digest())

    def _seal(self, key_id: str, secret: Secret) -> str:
        return base64.b64encode(self._box(key_id).encrypt(secret.reveal().encode())).decode()

    def _recover_secret(self) -> None:
        j, creds = self.journal, self.r.credentials
        if j is None or not j.new_id or j.phase in ("done", "creating"):
            return
        if creds.access_key_id.reveal() == j.new_id:
            self.secret = creds.access_key_secret  # a sink already switched this environment over
        elif j.pending and j.sealed_with == creds.access_key_id.reveal():
            from nacl.exceptions import CryptoError

            try:
                plain = self._box(j.new_id).decrypt(base64.b64decode(j.pending)).decode()
            except (CryptoError, ValueError):
                return
            self.secret = Secret(plain, source="rotation journal")

    def _outcome(self, step: Step, old: str | None) -> Outcome:
        j = self.journal
        rotated = any(s.startswith("create") for s in self.steps)
        result = "rotated" if rotated else "waiting" if j and j.phase != "done" else "nothing-to-do"
        if not rotated:
            old = j.old_id if j else None
        return Outcome(self.r.user, result, step.reason, self.steps, mask_id(old), mask_id(j.new_id if j else None),
                       self.read_back)


def _facts(run: Rotation, journal: Journal | None, now: datetime, *, secret: bool,
           started: datetime | None = None) -> Facts:
    return Facts(user=run.user, current_id=run.credentials.access_key_id.reveal(),
                 sinks=tuple(s.name for s in run.sinks), now=now, run_started=started or now, secret_known=secret)


def _in_use(keys: Sequence[Key], facts: Facts) -> str | None:
    ids = [k.id for k in keys]
    return facts.current_id if facts.current_id in ids else next(
        (k.id for k in keys if k.status == rotation_journal.ACTIVE), None)


def _load(run: Rotation) -> Journal | None:
    raw = run.store.get(rotation_journal.journal_key(run.user))
    return Journal.from_json(raw) if raw else None


def _checked(ok: bool | None) -> str:
    return {True: "yes", False: "differs", None: "not readable (by design)"}[ok]
