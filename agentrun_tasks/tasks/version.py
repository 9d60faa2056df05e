"""Tasks of the ``version`` namespace: publish and list immutable runtime versions."""

from __future__ import annotations

from invoke import task

from ._common import ENV_HELP, JSON_HELP, YES_HELP, cli_errors, collection

__all__ = ["list_", "ns", "publish"]


@task(help={"env": ENV_HELP, "description": "what this version is (default: commit and CI run)",
            "json": JSON_HELP, "yes": YES_HELP})
@cli_errors
def publish(c, env=None, description=None, json=False, yes=False):
    """Publish the runtime's current code (LATEST) as a new immutable version."""
    from ..flows.endpoints import publish_version
    from ..flows.release.candidate import provenance
    from ..session import open_runtime

    session, driver, runtime = open_runtime(c, env, json=json, mutating=True, yes=yes)
    text = description or ", ".join(["published by agentrun-tasks", *provenance(session.ci)])
    version = publish_version(driver, runtime, text)
    session.reporter.output("version", version.version)
    return session.reporter.result(version.to_dict())


@task(name="list", help={"env": ENV_HELP, "json": JSON_HELP})
@cli_errors
def list_(c, env=None, json=False):
    """List the runtime's published versions."""
    from ..flows.endpoints import versions as published
    from ..session import open_runtime

    session, driver, runtime = open_runtime(c, env, json=json)
    versions = [v.to_dict() for v in published(driver, runtime)]
    return session.reporter.result(versions, lambda r, rows: r.table(
        ["version", "published", "description"], [[v["version"], v["lastUpdatedAt"], v["description"]] for v in rows]))


ns = collection("version", publish, list_)
