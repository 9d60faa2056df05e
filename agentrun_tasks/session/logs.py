"""The log readers a session opens: where the release gates read real traffic, what ``invoke
logs`` reads, and what makes the logstore of ``logConfig: auto``. Locally the emulator's request
log; on the cloud the runtime's SLS logstore."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..core.errors import ConfigError

if TYPE_CHECKING:
    from ..adapters.sls_client import SlsProject
    from ..adapters.sls_logs import SlsLogs
    from ..core.ports import LogReader, LogSource, LogStores
    from ..core.resources import Runtime
    from .workspace import Session


def log_source(session: Session, runtime: Runtime) -> LogSource | None:
    env = session.env
    if env.emulator:
        from ..adapters.probe import emulator_log_source

        info, endpoint = session.emulator(), env.release.endpoint
        return lambda stable, candidate: emulator_log_source(info.url, runtime.name, endpoint, stable, candidate,
                                                             info.admin_headers)
    if not env.release.real_traffic:
        return None
    from ..adapters.sls_traffic import SlsTraffic

    return SlsTraffic(_sls_logs(session, runtime), env.release.endpoint).window


def log_reader(session: Session, runtime: Runtime) -> LogReader:
    if session.env.emulator:
        from ..adapters.emulator_logs import EmulatorLogs

        info = session.emulator()
        return EmulatorLogs(info.url, headers=info.admin_headers)
    return _sls_logs(session, runtime)


def logstores(session: Session) -> LogStores | None:
    env = session.env
    if env.emulator or env.driver != "openapi":
        return None
    from ..adapters.sls_setup import ensure_logstore

    return lambda project, logstore: ensure_logstore(
        _sls(session, project), logstore, description=f"agentrun-tasks: logConfig auto of {env.agent_name}")


def _sls_logs(session: Session, runtime: Runtime) -> SlsLogs:
    env = session.env
    log = runtime.raw.get("logConfiguration") or env.agent.get("logConfig")
    if log == "auto":  # `s info` does not say where auto went: where the component puts it
        from ..core.agentspec import auto_log_config

        log = auto_log_config(env.region, session.account_id())
    if not isinstance(log, Mapping) or not log.get("project") or not log.get("logstore"):
        raise ConfigError(
            f"{env.name}'s runtime {runtime.name} keeps no logs: it has no SLS logConfiguration. Set "
            f"agent.logConfig ({{project, logstore}}, or auto to have one made) in {env.path.name} and deploy.")
    from ..adapters.sls_logs import SlsLogs

    return SlsLogs(_sls(session, log["project"]), log["logstore"], runtime.id)


def _sls(session: Session, project: str) -> SlsProject:
    from ..adapters.openapi_connection import Connection
    from ..adapters.sls_client import SlsProject

    env = session.env
    endpoint = env.sls_endpoint or f"{env.region}.log.aliyuncs.com"
    return SlsProject(Connection(endpoint, env.protocol, env.region, session.credentials()), project,
                      policy=env.retry_policy)
