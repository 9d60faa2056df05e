"""core.rotation: live keys + journal -> the next step, as tables; and the whole run simulated."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from agentrun_tasks.core.errors import ConfigError
from agentrun_tasks.core.rotation import (
    Facts,
    Options,
    abandon,
    decide,
    describe,
    mask_id,
    plan,
    record,
)
from agentrun_tasks.core.rotation_journal import ACTIVE, INACTIVE, Journal, Key

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
RUN = NOW - timedelta(seconds=5)
OLD = Key("LTAIFAKEoldoldold0001", ACTIVE, NOW - timedelta(days=120))
NEW = Key("LTAIFAKEnewnewnew0002", ACTIVE, NOW - timedelta(seconds=3))
SINKS = ("dotenv:.env.local", "github:org/app")
FACTS = Facts(user="ci", current_id=OLD.id, sinks=SINKS, now=NOW, run_started=RUN, secret_known=True)


def journal(phase: str, **kw) -> Journal:
    base = dict(user="ci", phase=phase, old_id=OLD.id, new_id=NEW.id, started_at=RUN)
    base.update(kw)
    return Journal(**base)


CASES = [
    # (id, keys, journal, facts changes, options, expected kind, expected key or sink)
    ("fresh-rotation-creates", [OLD], None, {}, Options(), "create", None),
    ("young-key-left-alone", [OLD], None, {}, Options(min_age=200 * 86400), "done", None),
    ("inactive-leftover-of-a-rotation-removed-first", [OLD, replace(NEW, status=INACTIVE)],
     journal("done", old_id=None, new_id=OLD.id, created=(NEW.id,), started_at=RUN - timedelta(days=9)), {},
     Options(), "delete", NEW.id),
    ("inactive-key-no-journal-records-is-left-alone", [OLD, replace(NEW, status=INACTIVE)], None, {}, Options(),
     "refuse", None),
    ("unknown-active-second-key-stops", [OLD, NEW], None, {}, Options(), "refuse", None),
    ("force-deletes-unknown-second-key", [OLD, NEW], None, {}, Options(force=True), "delete", NEW.id),
    ("no-key-at-all", [], None, {}, Options(), "refuse", None),
    ("intent-without-key-creates", [OLD], journal("creating", new_id=None), {}, Options(), "create", None),
    ("unproven-key-after-a-killed-create-is-left-alone", [OLD, NEW], journal("creating", new_id=None), {}, Options(),
     "refuse", None),
    ("force-deletes-the-unproven-key", [OLD, NEW], journal("creating", new_id=None), {}, Options(force=True),
     "delete", NEW.id),
    ("force-never-deletes-a-key-a-sink-holds", [OLD, NEW], journal("creating", new_id=None),
     {"held": frozenset({NEW.id})}, Options(force=True), "refuse", None),
    ("hand-rotated-key-in-use-drops-the-intent", [OLD, NEW], journal("creating", new_id=None),
     {"current_id": NEW.id}, Options(), "forget", None),
    ("edited-journal-without-ids-deletes-nothing", [OLD], journal("creating", new_id=None, old_id=None,
                                                                  started_at=None), {}, Options(), "create", None),
    ("edited-journal-without-ids-and-two-keys", [OLD, NEW], journal("creating", new_id=None, old_id=None,
                                                                    started_at=None), {}, Options(), "refuse", None),
    ("journal-of-another-user-refused", [OLD], journal("verified", user="admin"), {}, Options(), "refuse", None),
    ("created-is-verified", [OLD, NEW], journal("created"), {}, Options(), "verify", NEW.id),
    ("lost-secret-before-any-sink-deletes", [OLD, NEW], journal("created"), {"secret_known": False}, Options(),
     "delete", NEW.id),
    ("lost-secret-after-a-write-began-refuses", [OLD, NEW], journal("verified", touched=SINKS[:1]),
     {"secret_known": False}, Options(), "refuse", None),
    ("lost-secret-after-a-sink-refuses", [OLD, NEW], journal("verified", written=SINKS[:1]),
     {"secret_known": False}, Options(), "refuse", None),
    ("verified-writes-first-missing-sink", [OLD, NEW], journal("verified", written=SINKS[:1]), {}, Options(),
     "write", SINKS[1]),
    ("all-sinks-written", [OLD, NEW], journal("verified", written=SINKS), {}, Options(), "written", None),
    ("grace-waits", [OLD, NEW], journal("written", written_at=NOW), {}, Options(grace=60), "wait", None),
    ("grace-over-deactivates", [OLD, NEW], journal("written", written_at=NOW - timedelta(minutes=2)), {},
     Options(grace=60), "deactivate", OLD.id),
    ("soak-same-run-stops", [replace(OLD, status=INACTIVE), NEW], journal("deactivated", deactivated_at=NOW), {},
     Options(), "done", None),
    ("soak-next-run-deletes", [replace(OLD, status=INACTIVE), NEW],
     journal("deactivated", deactivated_at=RUN - timedelta(days=1)), {"current_id": NEW.id}, Options(),
     "delete", OLD.id),
    ("soak-over-but-a-sink-holds-the-old-key", [replace(OLD, status=INACTIVE), NEW],
     journal("deactivated", deactivated_at=RUN - timedelta(days=1)),
     {"current_id": NEW.id, "held": frozenset({OLD.id})}, Options(), "refuse", None),
    ("delete-after-not-yet", [replace(OLD, status=INACTIVE), NEW],
     journal("deactivated", deactivated_at=NOW - timedelta(days=1)), {}, Options(delete_after=7 * 86400),
     "done", None),
    ("old-gone-finishes", [NEW], journal("deactivated", deactivated_at=NOW), {}, Options(), "finish", None),
    ("new-gone-before-sinks-starts-over", [OLD], journal("verified"), {}, Options(), "create", None),
    ("new-gone-after-sinks-refuses", [OLD], journal("written", written_at=NOW), {}, Options(), "refuse", None),
    ("three-keys-refused", [OLD, NEW, replace(NEW, id="LTAIthird")], None, {}, Options(), "refuse", None),
    ("done-this-run-stops", [NEW], journal("done", old_id=None), {"current_id": NEW.id}, Options(), "done", None),
]


@pytest.mark.parametrize(("keys", "jr", "changes", "opts", "kind", "target"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(keys, jr, changes, opts, kind, target):
    step = decide(keys, jr, replace(FACTS, **changes), opts)
    assert step.kind == kind, step
    if target is not None:
        assert target in (step.key_id, step.sink)
    assert OLD.id not in step.reason
    assert NEW.id not in step.reason
    describe(step)


def test_refusals_carry_exit_codes_and_say_why():
    step = decide([OLD, NEW], None, FACTS, Options())
    assert step.exit_code == 2
    assert "--force" in step.reason
    assert mask_id(NEW.id) in step.reason


def run(keys, journal_, facts, opts, fail_at=None):
    """The run loop as the flow runs it, with RAM simulated by a list; returns keys, journal, steps."""
    keys, steps, counter = list(keys), [], 0
    for _ in range(40):
        step = decide(keys, journal_, facts, opts)
        steps.append(step.kind)
        if step.stop:
            break
        new_id = None
        if step.kind == "create":
            journal_ = record(journal_, step, facts, keys)
            counter += 1
            new_id = f"LTAIsim{counter:013d}"
            keys.append(Key(new_id, ACTIVE, facts.now))
        elif step.kind == "delete":
            keys = [k for k in keys if k.id != step.key_id]
        elif step.kind == "deactivate":
            keys = [replace(k, status=INACTIVE) if k.id == step.key_id else k for k in keys]
        elif step.kind == "wait":
            facts = replace(facts, now=step.until)
        assert len(keys) <= 2
        journal_ = record(journal_, step, facts, keys, new_id=new_id)
    return keys, journal_, steps


def test_a_whole_run_then_the_next_run():
    keys, jr, steps = run([OLD], None, FACTS, Options(grace=30))
    assert steps == ["create", "verify", "write", "write", "written", "wait", "deactivate", "done"]
    assert [k.status for k in keys] == [INACTIVE, ACTIVE]
    assert jr.phase == "deactivated"
    later = replace(FACTS, now=NOW + timedelta(days=7), run_started=NOW + timedelta(days=7),
                    current_id=keys[1].id)
    keys, jr, steps = run(keys, jr, later, Options(min_age=90 * 86400))
    assert steps == ["delete", "done"]
    assert [k.id for k in keys] == [jr.new_id]
    assert jr.phase == "done"


def test_dry_run_plan_changes_nothing_and_names_every_step():
    steps = plan([OLD], None, FACTS, Options())
    assert [s.kind for s in steps] == ["create", "verify", "write", "write", "written", "deactivate", "done"]
    assert "<new key>" in describe(steps[2])


def test_abandon_returns_to_the_old_key():
    j = abandon(journal("created"))
    assert j.phase == "done"
    assert j.new_id == OLD.id
    assert j.pending is None


def test_journal_round_trip_and_corruption():
    j = journal("verified", written=SINKS, pending="sealed", sealed_with=OLD.id, written_at=NOW)
    assert Journal.from_json(j.to_json()) == j
    with pytest.raises(ConfigError):
        Journal.from_json(b"{nope")
    with pytest.raises(ConfigError):
        Journal.from_json(replace(j, phase="halfway").to_json())


def test_mask_id_shows_last_four_only():
    assert mask_id("LTAIabcdefgh1234") == "****1234"
    assert mask_id(None) == "-"


def test_default_grace_covers_a_deploy_that_started_with_the_old_key():
    from types import SimpleNamespace

    from agentrun_tasks.core.rotation import default_grace

    assert default_grace(SimpleNamespace(emulator=False, deploy_timeout=900.0)) == 900.0
    assert default_grace(SimpleNamespace(emulator=True, deploy_timeout=900.0)) == 0.0
