"""Yunxiao: the code source's trigger filters (set in the console, as docs/ci.md says) and each
job's ``condition``; a job after a ManualValidate waits for a person."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .events import Event
from .reading import canonical, load

__all__ = ["YUNXIAO_TRIGGERS", "jobs"]

YUNXIAO_TRIGGERS = {  # pipeline file -> (event kinds, ref filter as a regex)
    ".yunxiao/ci.yml": (("push",), r".*"),
    ".yunxiao/release.yml": (("push", "tag"), r"main|master|hotfix/.*|v[0-9].*"),
    ".yunxiao/manage.yml": (("manual",), r"main"),
    ".yunxiao/rotate-keys.yml": (("schedule",), r"main"),
}


def jobs(files: Mapping[str, str], event: Event) -> dict[str, str]:
    out: dict[str, str] = {}
    for path, text in files.items():
        kinds, refs = YUNXIAO_TRIGGERS[path]
        if event.kind not in kinds or not re.fullmatch(refs, event.ref):
            continue
        jobs = {jid: job for stage in load(text)["stages"].values() for jid, job in stage["jobs"].items()}
        for jid, job in jobs.items():
            if job.get("component") == "ManualValidate":
                continue
            condition = job.get("condition")
            if condition:
                left, right = (s.strip().strip('"') for s in condition.split("=="))
                if left.replace("${CI_COMMIT_REF_NAME}", event.ref) != right:
                    continue
            approval = jobs.get(job.get("needs", ""), {}).get("component") == "ManualValidate"
            out[canonical(jid)] = "by hand" if job.get("driven") == "manual" else "approval" if approval else ""
    return out
