"""What ``invoke doctor`` found: one line per check, what to do about each failure, and the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import AgentrunTasksError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


class DoctorFailed(AgentrunTasksError):
    """Some checks failed: the exit code is the first failure's; ``--json`` carries every check."""

    hint = "Do what each failed check says, then run `invoke doctor` again."

    def __init__(self, message: str, exit_code: int, diagnosis: dict) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self._diagnosis = diagnosis

    @property
    def details(self) -> dict:
        return self._diagnosis


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""  # what to do, for warn and fail
    code: int = 2  # the exit code a failure stands for (2 setup, 3 credentials, 5 platform)
    fixed: bool = False  # --fix changed something for it

    def to_dict(self) -> dict:
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix or None,
                "fixed": self.fixed}


@dataclass
class Diagnosis:
    checks: list[Check] = field(default_factory=list)
    policy: dict | None = None  # the minimal RAM policy document for this project's tasks

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    def to_dict(self) -> dict:
        return {"ok": not self.failures, "checks": [c.to_dict() for c in self.checks], "minimal_policy": self.policy}

    def error(self) -> DoctorFailed | None:
        """The error to exit with: the first failure's exit code, naming every failed check."""
        if not self.failures:
            return None
        names = ", ".join(c.name for c in self.failures)
        return DoctorFailed(f"doctor: {len(self.failures)} check(s) failed ({names}); each says what to fix.",
                            self.failures[0].code, self.to_dict())
