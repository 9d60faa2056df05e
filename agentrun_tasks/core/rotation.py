"""The AccessKey rotation as a state machine: live RAM keys plus a small journal -> the next step.

A rotation is a series of steps, each safe to repeat and each recorded in a journal kept in the
release state store (``rotation/<user>.json``, so every CI runner sees it; the journal and the keys
are :mod:`agentrun_tasks.core.rotation_journal`)::

    [delete leftover] -> create (intent journalled first) -> verify (STS, with backoff)
      -> write sink 1 .. sink N (read back where the sink allows) -> wait the grace period
      -> deactivate the old key -> done;  a later run: delete the old key once --delete-after passed

:func:`decide` derives the next step from what RAM reports *now* and the journal, never from a
remembered position, so a run killed at any line and rerun converges. The rules it keeps: never
more than two keys (RAM's limit), never an active key the journal does not know of, nothing
deactivated before the new key is verified and written to every sink, and a key is deleted only
when the journal proves it is this tool's (an id recorded at or right after its creation, or the
old key this rotation replaced), never the key the run signs with and never a key a sink that can
be read holds (``--force`` lifts only the first rule). A key it cannot prove is its own is left
alone and reported. A journal holds key ids and times only; the new secret travels sealed (``pending``,
opaque here: the flow seals it with the rotating key) and only until the old key is deactivated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .rotation_journal import ACTIVE, INACTIVE, Journal, Key

if TYPE_CHECKING:
    from .model import EnvConfig

MAX_KEYS = 2


def default_grace(env: EnvConfig) -> float:
    """How long the old key stays active once every sink has the new one, unless ``--grace`` says:
    the environment's ``deploy_timeout``, the longest a deploy that started with the old key can
    still run; nothing on the embedded emulator, whose key no other machine holds."""
    return 0.0 if env.emulator else float(env.deploy_timeout)


@dataclass(frozen=True)
class Options:
    min_age: float | None = None  # seconds; a younger current key is left alone
    grace: float = 0.0  # seconds the old key stays active after every sink has the new one
    delete_after: float | None = None  # seconds after deactivation; None = on the next run
    force: bool = False  # delete an unknown second key instead of stopping


@dataclass(frozen=True)
class Facts:
    """What the flow knows besides the keys and the journal."""

    user: str
    current_id: str | None  # the key this environment's credentials resolve to
    sinks: tuple[str, ...]  # every sink's name, in writing order
    now: datetime
    run_started: datetime
    secret_known: bool = False  # the flow holds the new key's secret (in memory or unsealed)
    signing_id: str | None = None  # the key RAM is called with now (the new one once it is verified)
    held: frozenset[str] = frozenset()  # key ids the sinks that can be read hold (looked up before deletes)


@dataclass(frozen=True)
class Step:
    """The next thing to do. ``kind`` is one of the names below; ``stop`` steps end the run."""

    kind: str  # delete | create | verify | write | written | wait | deactivate | finish | forget | done | refuse
    reason: str
    key_id: str | None = None
    sink: str | None = None
    until: datetime | None = None
    exit_code: int = 0  # refuse: the exit code

    @property
    def stop(self) -> bool:
        return self.kind in ("done", "refuse")


def decide(keys: Iterable[Key], journal: Journal | None, facts: Facts, opts: Options) -> Step:
    """The next step of the rotation of ``facts.user``."""
    by_id = {k.id: k for k in keys}
    if len(by_id) > MAX_KEYS:
        return Step("refuse", f"the RAM user holds {len(by_id)} keys, more than RAM allows", exit_code=5)
    if journal is not None and journal.user != facts.user:
        return Step("refuse", f"the rotation journal of RAM user {facts.user} names the user {journal.user!r}: it "
                    "was edited or copied; check the user's keys by hand, then delete or fix the journal", exit_code=2)
    if journal is None or journal.phase == "done":
        return _idle(by_id, journal, facts, opts)
    return _resume(by_id, journal, facts, opts)


def _idle(keys: dict[str, Key], journal: Journal | None, facts: Facts, opts: Options) -> Step:
    """No rotation under way: is one due, and is the user's key set understood?"""
    if journal is not None and journal.started_at and journal.started_at >= facts.run_started:
        return Step("done", f"rotated in this run; {mask_id(journal.new_id)} is in use")
    old = _current(keys, journal, facts)
    if old is None:
        if not keys:
            return Step("refuse", f"the RAM user {facts.user} has no AccessKey at all", exit_code=2)
        return Step("refuse", f"none of the RAM user {facts.user}'s keys ({_listing(keys)}) is the one this "
                    "environment uses, and more than one is active: say which with credentials.ram_user and the "
                    "environment's credentials", exit_code=2)
    age = (facts.now - old.created).total_seconds()
    if opts.min_age is not None and age < opts.min_age:
        return Step("done", f"the key {mask_id(old.id)} is {_days(age)} old, younger than --min-age "
                    f"{_days(opts.min_age)}: nothing to rotate")
    for other in (k for k in keys.values() if k.id != old.id):
        if other.status == INACTIVE and other.id in _recorded(journal):
            return _delete(other, facts, "an inactive key of an earlier rotation takes the second slot")
        if not opts.force:
            state = "an inactive" if other.status == INACTIVE else "a second active"
            return Step("refuse", f"the RAM user {facts.user} has {state} key {mask_id(other.id)} that no rotation "
                        "journal records, so it was left alone; find out who uses it, or rerun with --force to "
                        "delete it", exit_code=2)
        return _delete(other, facts, "--force: a second key no journal records is deleted")
    return Step("create", f"the key {mask_id(old.id)} is {_days(age)} old")


def _resume(keys: dict[str, Key], j: Journal, facts: Facts, opts: Options) -> Step:
    old = keys.get(j.old_id or "")
    new = keys.get(j.new_id or "")
    if j.phase == "creating":
        if j.old_id and facts.current_id in keys and facts.current_id != j.old_id:
            return Step("forget", f"the environment moved to the key {mask_id(facts.current_id)} since the "
                        "interrupted rotation began (rotated by hand?): that rotation is dropped")
        strangers = [k for k in keys.values() if k.id not in (j.old_id, facts.current_id)]
        if strangers and opts.force:
            return _delete(strangers[0], facts, "--force: a key the interrupted rotation cannot prove is its own")
        if strangers:  # a run killed inside CreateAccessKey, or a key made by hand: nothing tells them apart
            return Step("refuse", f"a rotation was interrupted around CreateAccessKey, and the RAM user now also has "
                        f"the key {mask_id(strangers[0].id)}, which the journal does not record: it may be the killed "
                        "run's (its secret lost) or made by hand, so it was left alone. If no one uses it, delete it "
                        "in RAM or rerun with --force", exit_code=2)
        return Step("create", "resuming: the key was not created")
    if new is None:
        if j.phase in ("created", "verified"):
            return Step("create", "the new key is gone (deleted after a failed verification?): starting over")
        return Step("refuse", f"the new key {mask_id(j.new_id)} the journal records is gone from RAM while "
                    "sinks may hold it; restore access by hand (every sink needs a working key)", exit_code=5)
    if j.phase in ("created", "verified") and not facts.secret_known:
        if not j.written and not j.touched:
            return _delete(new, facts, "the new key's secret was lost before any sink had it")
        return Step("refuse", f"the new key {mask_id(new.id)}'s secret cannot be recovered (it was sealed with "
                    "another key); rerun with the credentials that started the rotation", exit_code=3)
    if j.phase == "created":
        return Step("verify", "check the new key works (STS GetCallerIdentity)", key_id=new.id)
    if j.phase == "verified":
        missing = [s for s in facts.sinks if s not in j.written]
        if missing:
            return Step("write", f"{len(missing)} sink(s) to go", key_id=new.id, sink=missing[0])
        return Step("written", "every sink has the new key", key_id=new.id)
    if j.phase == "written":
        if old is None or old.status == INACTIVE:
            return Step("deactivate", "the old key is already inactive or gone", key_id=j.old_id)
        until = (j.written_at or facts.now).timestamp() + opts.grace
        if facts.now.timestamp() < until:
            return Step("wait", "the grace period: jobs that started with the old key finish",
                        until=datetime.fromtimestamp(until, timezone.utc))
        return Step("deactivate", "every sink has the new key and the grace period is over", key_id=old.id)
    # deactivated: the old key soaks (re-enable it to roll back), then goes
    if old is None:
        return Step("finish", "the old key is deleted")
    if _soaked(j, facts, opts):
        return _delete(old, facts, "the old key's soak is over")
    when = ("on the next run" if opts.delete_after is None else
            f"after {j.deactivated_at.isoformat(timespec='seconds') if j.deactivated_at else '?'} + "
            f"{_days(opts.delete_after)}")
    return Step("done", f"the old key {mask_id(old.id)} is inactive and will be deleted {when} "
                "(re-enable it in RAM to roll back)")


def _soaked(j: Journal, facts: Facts, opts: Options) -> bool:
    if j.deactivated_at is None:
        return False
    if opts.delete_after is None:
        return j.deactivated_at < facts.run_started
    return (facts.now - j.deactivated_at).total_seconds() >= opts.delete_after


def _delete(key: Key, facts: Facts, reason: str) -> Step:
    """Delete ``key``, unless the run signs with it or a sink holds it: then stop and say so."""
    if key.id in (facts.current_id, facts.signing_id):
        return Step("refuse", f"the key {mask_id(key.id)} would be deleted ({reason}), but this run signs with it; "
                    "it was left alone", exit_code=2)
    if key.id in facts.held:
        return Step("refuse", f"the key {mask_id(key.id)} would be deleted ({reason}), but a sink holds it; it was "
                    "left alone: find out why that sink has it", exit_code=2)
    return Step("delete", reason, key_id=key.id)


def _recorded(journal: Journal | None) -> set[str]:
    """The key ids the journal proves this tool handled: created, or replaced by a rotation."""
    if journal is None:
        return set()
    return {i for i in (journal.old_id, journal.new_id, *journal.created) if i}


def _current(keys: dict[str, Key], journal: Journal | None, facts: Facts) -> Key | None:
    """The key in use: the environment's own, else the last rotation's, else the only active one."""
    for candidate in (facts.current_id, journal.new_id if journal else None):
        if candidate in keys:
            return keys[candidate]
    active = [k for k in keys.values() if k.status == ACTIVE]
    return active[0] if len(active) == 1 else None


def record(journal: Journal | None, step: Step, facts: Facts, keys: Iterable[Key], *, new_id: str | None = None,
           pending: str | None = None, sealed_with: str | None = None) -> Journal | None:
    """The journal once ``step`` succeeded (the flow saves it; None means delete it)."""
    now = facts.now
    if step.kind == "create":
        if journal is None or journal.phase == "done" or journal.old_id is None:
            old = _current({k.id: k for k in keys}, journal, facts)
            journal = Journal(facts.user, "creating", old_id=old.id if old else None, started_at=now,
                              created=journal.created if journal else ())
        if new_id is None:  # the intent, saved before the key exists
            return replace(journal, phase="creating", new_id=None, pending=None, sealed_with=None, written=(),
                           touched=(), started_at=now)
        return replace(journal, phase="created", new_id=new_id, pending=pending, sealed_with=sealed_with,
                       written=(), touched=(), created=(*journal.created, new_id)[-4:])
    if step.kind == "forget":
        return None
    if journal is None or journal.phase == "done":
        return journal  # an idle step (a leftover deleted): nothing under way
    if step.kind == "delete":
        if step.key_id == journal.new_id or journal.phase == "creating":
            return replace(journal, phase="creating", new_id=None, pending=None, sealed_with=None, written=(),
                           touched=())
        return replace(journal, phase="done", old_id=None, pending=None, sealed_with=None)
    if step.kind == "verify":
        return replace(journal, phase="verified")
    if step.kind == "write":
        written = (*journal.written, step.sink or "")
        return replace(journal, written=written)
    if step.kind == "written":
        return replace(journal, phase="written", written_at=now)
    if step.kind == "deactivate":  # the sealed secret goes: a rerun no longer needs the old key's help
        return replace(journal, phase="deactivated", deactivated_at=now, pending=None, sealed_with=None)
    if step.kind == "finish":
        return replace(journal, phase="done", old_id=None)
    return journal


def touch(journal: Journal, sink: str) -> Journal:
    """The journal saved right before ``sink`` is written: from then on it may hold the new key."""
    return journal if sink in journal.touched else replace(journal, touched=(*journal.touched, sink))


def plan(keys: Iterable[Key], journal: Journal | None, facts: Facts, opts: Options, limit: int = 40) -> list[Step]:
    """The steps a run would take if every call succeeded (``--dry-run``): nothing is changed."""
    keys, steps = list(keys), list[Step]()
    facts = replace(facts, secret_known=True)
    while len(steps) < limit:
        step = decide(keys, journal, facts, opts)
        steps.append(step)
        if step.stop:
            break
        if step.kind == "wait":
            facts = replace(facts, now=max(facts.now, step.until or facts.now))
            continue
        new_id = None
        if step.kind == "create":
            new_id = NEW_PLACEHOLDER
            keys.append(Key(new_id, ACTIVE, facts.now))
        elif step.kind == "delete":
            keys = [k for k in keys if k.id != step.key_id]
        elif step.kind == "deactivate":
            keys = [replace(k, status=INACTIVE) if k.id == step.key_id else k for k in keys]
        journal = record(journal, step, facts, keys, new_id=new_id)
    return steps


NEW_PLACEHOLDER = "<new key>"


def describe(step: Step) -> str:
    """One line for a person: what the step does and why."""
    what = {
        "delete": f"delete key {mask_id(step.key_id)}", "create": "create a new key",
        "verify": f"verify key {mask_id(step.key_id)} with STS GetCallerIdentity",
        "write": f"write key {mask_id(step.key_id)} to {step.sink}", "written": "every sink is written",
        "wait": f"wait until {step.until.isoformat(timespec='seconds') if step.until else 'now'}",
        "deactivate": f"deactivate key {mask_id(step.key_id)}", "finish": "finish",
        "forget": "drop the interrupted rotation's journal",
        "done": "stop", "refuse": "refuse",
    }[step.kind]
    return f"{what}: {step.reason}"


def abandon(journal: Journal) -> Journal:
    """The journal after a new key that failed verification was deleted: back to the old key."""
    return replace(journal, phase="done", new_id=journal.old_id, old_id=None, pending=None, sealed_with=None,
                   written=())


def mask_id(key_id: str | None) -> str:
    """``****abcd``: key ids in output show their last 4 characters only."""
    if key_id == NEW_PLACEHOLDER:
        return key_id
    return f"****{key_id[-4:]}" if key_id else "-"


def _listing(keys: dict[str, Key]) -> str:
    return ", ".join(f"{mask_id(k.id)} {k.status}" for k in keys.values())


def _days(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.0f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds:.0f}s"
