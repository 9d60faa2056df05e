import io
import json

from agentrun_tasks.core import secrets
from agentrun_tasks.core.report import Reporter, dialect_for


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
