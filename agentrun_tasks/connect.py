"""Open the control plane for a session: credentials plus where to call.

The only difference between a laptop rehearsal and production is here, in data: the local
environment starts the embedded emulator and points the same driver at it over http.
"""

from __future__ import annotations

from .core.errors import ConfigError
from .drivers.openapi import Connection, OpenApiDriver


def control_plane(session) -> OpenApiDriver:
    """An :class:`OpenApiDriver` for ``session.env`` (starting the emulator when it is the target)."""
    from .core import credentials
    from .keystore import KeyStore

    env = session.env
    if env.driver != "openapi":
        raise ConfigError(f"{env.path.name}: driver {env.driver!r} is not available in this version; use "
                          "driver: openapi (the official AgentRun SDK), which needs no Serverless Devs CLI.")
    if env.emulator:
        from .emulator.lifecycle import ensure_running

        info = ensure_running(session.root)
        endpoint = sts = f"127.0.0.1:{info.port}"
        protocol = "http"
    else:
        endpoint = env.control_endpoint or f"agentrun.{env.region}.aliyuncs.com"
        sts = None
        protocol = env.protocol
    creds = credentials.resolve(env, environ=session.environ, root=session.root, keystore=KeyStore())
    for warning in creds.warnings:  # e.g. a .env file others can read
        session.reporter.warn(warning)
    return OpenApiDriver(Connection(endpoint=endpoint, protocol=protocol, region=env.region,
                                    credentials=creds, sts_endpoint=sts), env.retry_policy)
