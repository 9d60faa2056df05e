"""release.run's choice of where ``invoke rollback`` goes without a split: from history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agentrun_tasks.core.history import Record
from agentrun_tasks.core.rollout import EndpointState
from agentrun_tasks.flows.release.by_hand import _already_rolled_back, _previous

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def history(*entries: tuple[str, str | None, str, str]) -> list[Record]:
    """(kind, from, to, result) in time order."""
    return [Record(kind=kind, env="prod", actor="ci", commit=None, ci_run=None, from_version=from_, to_version=to,
                   result=result, reason="", analysis=[], started_at=T0 + timedelta(minutes=i),
                   finished_at=T0 + timedelta(minutes=i, seconds=30))
            for i, (kind, from_, to, result) in enumerate(entries)]


RELEASE_PROMOTE_ROLLBACK = history(("release", None, "1", "ok"), ("promote", "1", "2", "ok"),
                                   ("rollback", "2", "1", "ok"))

CASES = [
    # id, history, live target -> (already rolled back, previous version)
    ("after-a-promotion", RELEASE_PROMOTE_ROLLBACK[:2], "2", (False, "1")),
    ("rolled-back-already", RELEASE_PROMOTE_ROLLBACK, "1", (True, None)),
    ("a-rollback-is-never-a-way-back", history(("release", None, "1", "ok"), ("release", "1", "2", "ok"),
                                               ("rollback", "2", "1", "ok"), ("release", "1", "3", "rolled-back")),
     "1", (True, None)),
    ("after-a-release-over-a-rollback", history(("release", "1", "2", "ok"), ("rollback", "2", "1", "ok"),
                                                ("release", "1", "3", "ok")), "3", (False, "1")),
    # An automatic rollback (a gate failed, or the release was interrupted) is a rollback: pressing
    # `invoke rollback` after it changes nothing, where it used to condemn the healthy version 2.
    ("after-an-automatic-rollback", history(("release", "1", "2", "ok"), ("release", "2", "3", "rolled-back")),
     "2", (True, "1")),
    ("after-an-interrupted-release", history(("release", "1", "2", "ok"), ("release", "2", "3", "aborted")),
     "2", (True, "1")),
    ("failed-releases-are-skipped", history(("release", "1", "2", "ok"), ("release", "2", "3", "rolled-back"),
                                            ("release", "2", "4", "failed")), "2", (False, "1")),
    ("moved-by-hand-since-the-automatic-rollback",
     history(("release", "1", "2", "ok"), ("release", "2", "3", "rolled-back")), "3", (False, None)),
    ("moved-by-hand-since-the-rollback", RELEASE_PROMOTE_ROLLBACK, "2", (False, "1")),
]


@pytest.mark.parametrize(("entries", "target", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_where_a_rollback_without_a_split_goes(entries, target, expected):
    live = EndpointState(target)
    assert (_already_rolled_back(entries, live), _previous(entries, live)) == expected
