"""Tasks of the ``endpoint`` namespace: point endpoints at versions, with an optional canary."""

from __future__ import annotations

from invoke import task

from ._common import ENV_HELP, JSON_HELP, YES_HELP, cli_errors, collection, version_flag

__all__ = ["get", "list_", "ns", "publish", "remove"]

NAME_HELP = "endpoint name (default: release.endpoint of the env file)"


@task(help={"env": ENV_HELP, "name": NAME_HELP,
            "target_version": "version that takes the rest of the traffic (default LATEST)",
            "canary_version": "version that gets --weight of the traffic",
            "weight": "the canary's share: 0.05 or 5%; needs --canary-version",
            "description": "endpoint description", "json": JSON_HELP, "yes": YES_HELP})
@cli_errors
def publish(c, env=None, name=None, target_version="LATEST", canary_version=None, weight=None, description=None,
            json=False, yes=False):
    """Create or update an endpoint: a target version, optionally a canary with a weight.

    Inputs are checked before anything is sent: a weight outside [0, 1], a canary without a
    weight (or a weight without a canary, the usual guide's broken form), or a version that is
    not published exit 2 with nothing changed.
    """
    from ..core.routing import canary_weights, parse_weight
    from ..flows import endpoints
    from ..session import open_runtime

    target_version = version_flag(target_version, "--target-version")
    canary_version = version_flag(canary_version, "--canary-version", latest=False)
    weights = canary_weights(str(target_version), canary_version, parse_weight(weight))
    session, driver, runtime = open_runtime(c, env, json=json, mutating=True, yes=yes)
    endpoint = endpoints.publish(driver, runtime, name or session.env.release.endpoint,
                                 target_version=str(target_version), weights=weights, description=description)
    session.reporter.output("endpoint_url", endpoint.url)
    return session.reporter.result(endpoint.to_dict(), _show)


def _show(reporter, data):
    from ..core.report import format_traffic

    reporter.line(f"{data['name']}  {format_traffic(data['traffic'])}  {data['url']}")


@task(help={"env": ENV_HELP, "name": NAME_HELP, "json": JSON_HELP})
@cli_errors
def get(c, env=None, name=None, json=False):
    """Show one endpoint: target version, canary weights, URL, status."""
    from ..flows import endpoints
    from ..session import open_runtime

    session, driver, runtime = open_runtime(c, env, json=json)
    endpoint = endpoints.endpoint(driver, runtime, name or session.env.release.endpoint)
    return session.reporter.result(endpoint.to_dict(), _show)


@task(name="list", help={"env": ENV_HELP, "json": JSON_HELP})
@cli_errors
def list_(c, env=None, json=False):
    """List the runtime's endpoints with their traffic split."""
    from ..core.report import show_endpoints
    from ..flows import endpoints
    from ..session import open_runtime

    session, driver, runtime = open_runtime(c, env, json=json)
    listed = [e.to_dict() for e in endpoints.endpoints(driver, runtime)]
    return session.reporter.result(listed, show_endpoints)


@task(help={"env": ENV_HELP, "name": "endpoint to delete", "yes": YES_HELP, "json": JSON_HELP})
@cli_errors
def remove(c, env=None, name=None, yes=False, json=False):
    """Delete an endpoint (asks first unless --yes). A missing endpoint is not an error."""
    from ..core.errors import ConfigError
    from ..flows import endpoints
    from ..session import open_control

    if not name:
        raise ConfigError("`invoke endpoint.remove` needs --name: the endpoint to delete.")
    session, driver = open_control(c, env, json=json, mutating=True, yes=yes,
                                   destructive=lambda cfg: f"Delete endpoint {name!r} of '{cfg.name}'?")
    removed = endpoints.remove(driver, session.env.agent_name, name)
    return session.reporter.result({"removed": removed, "name": name})


ns = collection("endpoint", publish, get, list_, remove)
