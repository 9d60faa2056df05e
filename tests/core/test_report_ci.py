"""CI summaries and collapsible log sections in each platform's dialect."""

from __future__ import annotations

import io
import re
from pathlib import Path

from agentrun_tasks.core.ci_dialects import dialect_for
from agentrun_tasks.core.report import Reporter


def reporter(platform: str, environ: dict) -> tuple[Reporter, io.StringIO]:
    out = io.StringIO()
    return Reporter(out=out, err=io.StringIO(), dialect=dialect_for(platform, environ), interactive=False), out


def without_masks(text: str) -> str:
    """The output less the mask commands a dialect prints for every secret registered so far in
    this process (other tests register theirs)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(("::add-mask::", "##vso[task.setsecret]")))


def test_github_summary_appends_markdown_and_sections_are_groups(tmp_path):
    summary = tmp_path / "summary.md"
    r, out = reporter("github", {"GITHUB_STEP_SUMMARY": str(summary)})
    r.summary("| a | b |\n| --- | --- |\n")
    r.summary("second\n")
    assert summary.read_text() == "| a | b |\n| --- | --- |\nsecond\n"
    with r.section("build"):
        r.line("inside")
    assert without_masks(out.getvalue()) == "::group::build\ninside\n::endgroup::\n"


def test_gitlab_sections_are_collapsed_section_markers():
    r, out = reporter("gitlab", {})
    with r.section("Step 5%: analysis"):
        r.line("table")
    start, body, end = out.getvalue().rstrip("\n").split("\n")
    assert re.fullmatch(r"\x1b\[0Ksection_start:\d+:step_5_analysis\[collapsed=true\]\r\x1b\[0KStep 5%: analysis", start)
    assert body == "table"
    assert re.fullmatch(r"\x1b\[0Ksection_end:\d+:step_5_analysis\r\x1b\[0K", end)


def test_azure_uploads_a_summary_file_and_groups(tmp_path):
    r, out = reporter("azure", {"AGENT_TEMPDIRECTORY": str(tmp_path)})
    r.summary("### done\n")
    command = without_masks(out.getvalue()).strip()
    assert command.startswith("##vso[task.uploadsummary]")
    assert Path(command.split("]", 1)[1]).read_text() == "### done\n"
    with r.section("x"):
        pass
    assert out.getvalue().endswith("##[group]x\n##[endgroup]\n")


def test_locally_there_is_no_summary_and_no_section_marker():
    r, out = reporter("local", {})
    r.summary("### done\n")
    with r.section("build"):
        r.line("inside")
    assert out.getvalue() == "inside\n"
