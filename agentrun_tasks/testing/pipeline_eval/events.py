"""The events the contract table of docs/ci.md has a row for, as :class:`Event` values."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVENTS", "Event"]


@dataclass(frozen=True)
class Event:
    kind: str  # push, tag, mr (opened/updated), mr_closed, schedule, manual
    ref: str  # the branch (the MR's source branch) or the tag
    mr_open: bool = False  # push to a branch with an open MR/PR
    action: str = ""  # manual: rollback, promote, release


# The rows of docs/ci.md's contract table, in its order.
EVENTS = {
    "push to develop": Event("push", "develop"),
    "push to develop, MR open": Event("push", "develop", mr_open=True),
    "push to feature/x": Event("push", "feature/x"),
    "push to feature/x, MR open": Event("push", "feature/x", mr_open=True),
    "MR/PR from feature/x opened or updated": Event("mr", "feature/x"),
    "MR/PR from feature/x closed": Event("mr_closed", "feature/x"),
    "push to main": Event("push", "main"),
    "push to hotfix/x, MR open": Event("push", "hotfix/x", mr_open=True),
    "tag v1.2.3": Event("tag", "v1.2.3"),
    "tag nightly": Event("tag", "nightly"),
    "weekly schedule": Event("schedule", "main"),
    "by hand on main: rollback": Event("manual", "main", action="rollback"),
}
