"""The ``logs`` task: a runtime's request log and agent output, for troubleshooting."""

from __future__ import annotations

import time

from invoke import task

from ..core.errors import ConfigError
from ._common import ENV_HELP, JSON_HELP, cli_errors, collection, version_flag, whole_number

__all__ = ["logs", "ns"]


@task(help={"env": ENV_HELP, "version": "only this version (a number, or LATEST)",
            "since": "how far back the request log goes: 30s, 10m, 2h (default 1h)",
            "tail": "keep printing new requests and output until Ctrl-C",
            "errors": "failed requests (HTTP 5xx) and error lines of the output only",
            "lines": "lines of agent output per version (default 50)", "json": JSON_HELP})
@cli_errors
def logs(c, env=None, version=None, since=None, tail=False, errors=False, lines=None, json=False):
    """Show the runtime's request log and agent output; --errors for failures, --tail to follow.

    Locally: the emulator's request log (each request an endpoint served: time, endpoint,
    version, HTTP status, latency) and the output of each version's agent process. On the cloud:
    the runtime's SLS logstore (agent.logConfig), where Function Compute writes one row per
    request and the agent's output lines; sls_endpoint in the env file overrides
    <region>.log.aliyuncs.com. Output is redacted like all output.
    """
    from ..core.config import parse_duration
    from ..core.logs import LogQuery, output_lines, request_line
    from ..flows.logs import follow, read
    from ..session import open_runtime

    try:
        window = parse_duration(since) if since is not None else 3600.0
    except ConfigError as exc:
        raise ConfigError(f"--since: {exc}") from None
    version = version_flag(version, "--version")
    count = whole_number(lines, "--lines", default=50)
    session, _driver, runtime = open_runtime(c, env, json=json)
    reader = session.log_reader(runtime)
    query = LogQuery(runtime.name, time.time() - window, version=version, errors=errors, lines=count)
    reporter = session.reporter
    if tail:
        try:
            follow(reader, query, reporter.line)
        except KeyboardInterrupt:  # the way to stop following: not a failure
            return None
    data = read(reader, query)

    def show(r, d) -> None:
        for line in [*map(request_line, d["requests"]), *output_lines(d["output"], errors=errors)]:
            r.line(line)

    return reporter.result(data, show)


ns = collection("logs", logs, default=logs)
