import io
import json

from agentrun_tasks.core import secrets
from agentrun_tasks.core.ci_dialects import dialect_for
from agentrun_tasks.core.report import Reporter


def reporter(platform: str, environ: dict, *, json_mode: bool) -> tuple[Reporter, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Reporter(out=out, err=err, json_mode=json_mode, dialect=dialect_for(platform, environ),
                    interactive=False), out, err


def test_under_json_stdout_is_one_document_even_with_masks_and_azure_outputs():
    rep, out, err = reporter("azure", {}, json_mode=True)
    secret = secrets.Secret("SENTINEL-report-json-7731")
    rep.output("endpoint_url", "http://127.0.0.1:1/x")
    rep.result({"ok": True, "key": str(secret)})
    assert json.loads(out.getvalue()) == {"ok": True, "key": secret.masked}
    assert f"##vso[task.setsecret]{secret.reveal()}" in err.getvalue()
    assert "##vso[task.setvariable variable=endpoint_url;isoutput=true]http://127.0.0.1:1/x" in err.getvalue()


def test_github_outputs_go_to_the_output_file_and_human_mode_masks_on_stdout(tmp_path):
    output = tmp_path / "out"
    rep, out, _ = reporter("github", {"GITHUB_OUTPUT": str(output)}, json_mode=False)
    secret = secrets.Secret("SENTINEL-report-gh-5512")
    rep.output("version", "3")
    rep.line(f"key {secret.reveal()}")
    assert output.read_text() == "version=3\n"
    lines = out.getvalue().splitlines()  # earlier secrets of the process are masked too
    assert lines.index(f"::add-mask::{secret.reveal()}") < lines.index(f"key {secret.masked}")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_in_a_ci_log_a_wait_prints_state_changes_and_a_heartbeat_at_most_every_30_seconds():
    rep, out, _ = reporter("local", {}, json_mode=False)  # not GitHub: it would print the masks first
    clock = Clock()
    with rep.progress("health check prod", every=30, clock=clock) as update:
        for attempt in range(1, 61):  # a minute of one attempt per second, no answer
            clock.now = float(attempt)
            update("no answer", f"attempt {attempt}")
        clock.now = 61.0
        update("HTTP 200", "attempt 61")
    assert out.getvalue().splitlines() == [
        "health check prod: no answer, attempt 1 (1.0s)",
        "health check prod: no answer, attempt 31 (31.0s)",
        "health check prod: HTTP 200, attempt 61 (61.0s)",
    ]


def test_on_a_terminal_a_wait_is_one_line_redrawn_in_place():
    out = io.StringIO()
    rep = Reporter(out=out, err=io.StringIO(), interactive=True)
    with rep.progress("step 5%", every=30) as update:
        for second in range(5):
            update("analysing", f"{second}s elapsed, {60 - second}s left; {second * 4} candidate requests")
    text = out.getvalue()
    assert text.count("\n") == 1
    assert text.endswith("\n")
    assert text.count("\r") >= 5
    assert "step 5%: analysing, 4s elapsed, 56s left; 16 candidate requests" in text
