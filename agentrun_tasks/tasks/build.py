"""The ``build`` task: the agent's deterministic package, built or reused."""

from __future__ import annotations

from invoke import task

from ._common import ENV_HELP, JSON_HELP, cli_errors, collection

__all__ = ["build", "ns"]


@task(help={"env": ENV_HELP, "json": JSON_HELP,
            "force": "rebuild even when the inputs are unchanged"})
@cli_errors
def build(c, env=None, force=False, json=False):
    """Package the agent's code and its requirements for the cloud runtime, without Docker.

    Zips agent.code.src (default code/) with the wheels of its requirements.txt installed for
    agent.code.language (binary manylinux x86_64 wheels only; Node.js and Java code is packaged
    as is). The zip is deterministic: the same inputs give the same bytes. When the inputs'
    content hash is unchanged the artifact under .agentrun/build/<env>/ is reused. Files matched
    by code/.agentrunignore (gitignore-like) are left out, as are caches, .git, .venv and .env*.
    Prints path, size, SHA-256, CRC-64 (the API's checksum) and time. Exit 2 names a requirement
    that has no wheel for the target.
    """
    from ..flows.build import build_artifact
    from ..session import open_session

    session = open_session(c, env, json=json)
    reporter = session.reporter
    artifact = build_artifact(session.env, root=session.root, force=force, reporter=reporter)
    reporter.output("artifact_path", str(artifact.path))
    reporter.output("artifact_sha256", artifact.sha256)
    data = artifact.as_dict() | {"env": session.env.name, "status": _status(artifact)}
    return reporter.result(data, _show)


def _status(artifact) -> str:
    return "unchanged, reused" if artifact.reused else "built"


def _show(reporter, data):
    reporter.line(f"package  {data['path']}")
    reporter.line(f"size     {data['size']:,} bytes, {data['file_count']} file{'' if data['file_count'] == 1 else 's'}")
    reporter.line(f"sha256   {data['sha256']}")
    reporter.line(f"crc64    {data['crc64']}")
    reporter.line(f"status   {data['status']} in {data['seconds']:.2f}s")


ns = collection("build", build, default=build)
