"""The main job: put the built package on the runtime, wait until READY, check health.

Every step reads live state first, so a deploy killed at any line and rerun converges: an
unchanged runtime is not updated again, a missing endpoint is created, a busy runtime is
either waited for (``--wait``) or reported as busy (exit 7).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..adapters import health
from ..core.agentspec import cleared, needs_account_id, needs_update, runtime_input
from ..core.errors import (
    BusyError,
    ConfigError,
    GateFailed,
    ResourceFailedError,
    WaitTimeoutError,
)
from ..core.model import EnvConfig
from ..core.ports import CodeStore, Driver, LogStores, Workspace
from ..core.report import HEARTBEAT_SECONDS, Reporter
from ..core.resources import READY, Endpoint, Runtime
from . import endpoints

if TYPE_CHECKING:
    from ..core.build import Artifact
    from .records import Records


@dataclass
class DeployResult:
    runtime: Runtime
    endpoint: Endpoint  # the environment's endpoint, the one users call
    checked: Endpoint  # where the new code was health-checked (the same, until a release pins it)
    action: str  # created | updated | unchanged
    health: health.HealthResult
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"runtime": self.runtime.to_dict(), "endpoint": self.endpoint.to_dict(), "url": self.endpoint.url,
                "checked_url": self.checked.url, "action": self.action, "health": self.health.to_dict(),
                "timings": {k: round(v, 3) for k, v in self.timings.items()}}


def code_configuration(artifact: Artifact, env: EnvConfig, code_store: CodeStore | None = None) -> dict:
    """Inline the zip when it is small enough; upload a larger one to the OSS ``code_store``.

    The object is named by the package's SHA-256, so a rerun uploads nothing new.
    """
    data = artifact.path.read_bytes()
    if artifact.size <= env.inline_zip_limit:
        return {"zipFile": base64.b64encode(data).decode("ascii"), "checksum": str(artifact.crc64)}
    if code_store is None:
        raise ConfigError(
            f"the package is {artifact.size} bytes, above inline_zip_limit ({env.inline_zip_limit} bytes) in "
            f"{env.path.name}, and the environment names no OSS bucket to upload it to. Set "
            "release.state_bucket, shrink the package (.agentrunignore) or raise inline_zip_limit.")
    key = f"code/{env.agent_name}/{artifact.sha256}.zip"
    if code_store.get_size(key) != artifact.size:
        code_store.put(key, data)
    return {"ossBucketName": code_store.bucket, "ossObjectName": code_store.object_name(key),
            "checksum": str(artifact.crc64)}


def wait_ready(driver: Driver, runtime: Runtime, *, timeout: float, reporter: Reporter,
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Runtime:
    """Poll until READY with growing intervals; a *_FAILED state is exit 5, the deadline exit 6."""
    deadline = clock() + timeout
    delay = 0.25
    with reporter.progress(f"runtime {runtime.name}") as update:
        while True:
            update(runtime.status)
            if runtime.status == READY:
                return runtime
            if runtime.failed:
                raise ResourceFailedError(
                    f"runtime {runtime.name} is {runtime.status}: {runtime.status_reason or 'no reason given'}")
            if clock() + delay > deadline:
                raise WaitTimeoutError(
                    f"runtime {runtime.name} is still {runtime.status} after {timeout:.0f}s "
                    f"(deploy_timeout in the env file); it may still finish: rerun with --wait.")
            sleep(delay)
            delay = min(delay * 1.6, 5.0)
            runtime = driver.get_runtime(runtime.id)


def health_endpoint(driver: Driver, runtime: Runtime, env: EnvConfig) -> Endpoint:
    """The endpoint that serves the code just deployed (LATEST).

    The environment's endpoint is created on the first deploy, pointing at LATEST. Once a
    release has pinned it to a published version, deploy leaves it alone and checks LATEST
    through ``<endpoint>-latest`` instead, so deploying never moves production traffic.
    """
    name = env.release.endpoint
    endpoint = driver.find_endpoint(runtime.id, name)
    if endpoint is None:
        return driver.put_endpoint(runtime.id, name, target_version="LATEST",
                                   description="created by agentrun-tasks deploy")
    # An endpoint found may still be settling (no URL yet): wait until it is READY with one.
    if endpoint.target_version == "LATEST" and not endpoint.weights:
        return endpoints.ready(driver, runtime.id, endpoint)
    latest = driver.find_endpoint(runtime.id, f"{name}-latest")
    if latest is not None and latest.target_version == "LATEST" and not latest.weights:
        return endpoints.ready(driver, runtime.id, latest)
    return driver.put_endpoint(runtime.id, f"{name}-latest", target_version="LATEST",
                               description="LATEST code, for health checks before a release")


def check_health(url: str, env: EnvConfig, reporter: Reporter, label: str) -> health.HealthResult:
    """:func:`health.check` showing its progress: one updating line on a terminal (the attempt
    count ticking), in a CI log a line per new answer and a heartbeat, not a line per attempt."""
    with reporter.progress(label, every=HEARTBEAT_SECONDS) as update:
        return health.check(url, env.health, on_attempt=lambda n, status: update(
            f"HTTP {status}" if status else "no answer", f"attempt {n}"))


def _health_gate(checked: Endpoint, env: EnvConfig, reporter: Reporter, timings: dict[str, float], started: float,
                 clock: Callable[[], float], consequence: str) -> health.HealthResult:
    """Health-check ``checked`` into ``timings``; a failure is exit 4 ending with ``consequence``."""
    mark = clock()
    result = check_health(checked.url, env, reporter, f"health check {checked.name}")
    timings["health"] = clock() - mark
    timings["total"] = clock() - started
    if not result.ok:
        raise GateFailed(
            f"health check of {checked.url}{env.health.path} failed after {result.attempts} attempts in "
            f"{result.seconds:.0f}s: last status {result.status}, {result.detail}. {consequence}")
    return result


def deploy(driver: Driver, env: EnvConfig, artifact: Artifact, reporter: Reporter, *, account_id: str | None,
           wait: bool = False, code_store: CodeStore | None = None, logstores: LogStores | None = None,
           clock: Callable[[], float] = time.monotonic) -> DeployResult:
    """Create or update the runtime from ``artifact``, wait for READY, health-check it.

    ``logstores`` makes the SLS project and logstore ``logConfig: auto`` stands for before the
    runtime first logs to them (None where the platform makes them: the serverless-devs driver,
    the emulator)."""
    timings: dict[str, float] = {}
    started = clock()
    runtime = driver.find_runtime(env.agent_name)
    timings["lookup"] = clock() - started  # the first call: includes loading the SDK
    if runtime is not None and runtime.busy:
        if not wait:
            raise BusyError(
                f"runtime {runtime.name} is {runtime.status}: another deploy is running. Wait for it with "
                "`invoke deploy --wait`, or check it with `invoke info`.")
        reporter.line(f"runtime {runtime.name} is {runtime.status}; waiting for the other deploy to finish")
        runtime = _settle(driver, runtime, env, reporter)
    mark = clock()
    spec = runtime_input(env.agent, account_id=account_id, region=env.region,
                         code=code_configuration(artifact, env, code_store))
    log = spec.get("logConfiguration") or {}
    if logstores is not None and env.agent.get("logConfig") == "auto" and (
            runtime is None or runtime.raw.get("logConfiguration") != log):
        reporter.line(f"logConfig: auto: SLS project {log['project']}, logstore {log['logstore']}")
        logstores(log["project"], log["logstore"])
    if runtime is None:
        reporter.line(f"creating runtime {env.agent_name}")
        runtime, action = driver.create_runtime(spec), "created"
    else:
        changed = needs_update(runtime.raw, spec)
        if not changed and runtime.status == READY:
            action = "unchanged"
            reporter.line(f"runtime {runtime.name} already runs this package and configuration")
        else:
            why = ", ".join(changed) or f"recovering from {runtime.status}"
            reporter.line(f"updating runtime {runtime.name} ({why})")
            # An update sends only the fields it names: removed settings are sent empty to clear them.
            runtime, action = driver.update_runtime(runtime.id, {**spec, **cleared(runtime.raw, spec)}), "updated"
    timings["submit"] = clock() - mark
    mark = clock()
    runtime = wait_ready(driver, runtime, timeout=env.deploy_timeout, reporter=reporter)
    timings["ready"] = clock() - mark
    checked = health_endpoint(driver, runtime, env)
    result = _health_gate(checked, env, reporter, timings, started, clock,
                          "The runtime is deployed but does not answer correctly; nothing was promoted.")
    endpoint = checked if checked.name == env.release.endpoint else driver.find_endpoint(runtime.id,
                                                                                         env.release.endpoint)
    if endpoint is None:  # health_endpoint found it a moment ago: deleted by someone else since
        raise ResourceFailedError(f"endpoint {env.release.endpoint} of runtime {runtime.name} was deleted while "
                                  "this deploy ran; the runtime is deployed and healthy. Rerun `invoke deploy` to "
                                  "recreate the endpoint.")
    return DeployResult(runtime, endpoint, checked, action, result, timings)


def unchanged(driver: Driver, env: EnvConfig, artifact: Artifact, reporter: Reporter, *, account_id: str | None,
              clock: Callable[[], float] = time.monotonic) -> DeployResult | None:
    """The deploy when it would write nothing, decided from reads alone: the runtime READY with this
    package (by its checksum) and configuration, and an endpoint already serving LATEST, which is
    then health-checked. None when anything would be written: the caller then takes the
    environment's lock and runs :func:`deploy`, which reads again under it."""
    started = clock()
    runtime = driver.find_runtime(env.agent_name)
    if runtime is None or runtime.status != READY:
        return None
    # The package is compared by its checksum alone, so nothing is read, inlined or uploaded here.
    spec = runtime_input(env.agent, account_id=account_id, region=env.region,
                         code={"checksum": str(artifact.crc64)})
    if needs_update(runtime.raw, spec):
        return None
    checked = next((e for e in (driver.find_endpoint(runtime.id, name)
                                for name in (env.release.endpoint, f"{env.release.endpoint}-latest"))
                    if e is not None and e.ready and e.target_version == "LATEST" and not e.weights), None)
    if checked is None:
        return None
    timings = {"lookup": clock() - started, "submit": 0.0, "ready": 0.0}
    reporter.line(f"runtime {runtime.name} already runs this package and configuration")
    result = _health_gate(checked, env, reporter, timings, started, clock,
                          "The runtime runs this package but does not answer correctly; nothing was changed.")
    endpoint = checked if checked.name == env.release.endpoint else driver.find_endpoint(runtime.id,
                                                                                         env.release.endpoint)
    if endpoint is None:
        return None
    return DeployResult(runtime, endpoint, checked, "unchanged", result, timings)


def deploy_session(session: Workspace, driver: Driver, artifact: Artifact, *, wait: bool = False,
                   records: Callable[[], Records] | None = None) -> DeployResult:
    """:func:`deploy` with what a session opened: its env, reporter, account and code store.

    With ``records`` (a plain ``invoke deploy``: it opens the environment's records) a deploy that
    would write decides so from reads, then holds the environment's lock, the one a release holds,
    so it never changes the runtime under a release (exit 7 instead); one that would write nothing
    only health-checks, with no lock and no state store opened. A release passes none: it already
    holds the lock.
    """
    # STS is asked for the account only when the runtime input names it.
    account = session.account_id() if needs_account_id(session.env.agent) else session.credentials().account_id

    def run() -> DeployResult:
        return deploy(driver, session.env, artifact, session.reporter, account_id=account, wait=wait,
                      code_store=session.code_store(artifact), logstores=session.logstores())

    if records is None:
        return run()
    done = unchanged(driver, session.env, artifact, session.reporter, account_id=account)
    if done is not None:
        return done
    held = records()
    held.acquire(None, ttl=session.env.release.lock_ttl, force=False)
    try:
        return run()
    finally:
        held.release()


def _settle(driver: Driver, runtime: Runtime, env: EnvConfig, reporter: Reporter) -> Runtime:
    """Wait out another deploy; its failure is not ours, we deploy over it."""
    try:
        return wait_ready(driver, runtime, timeout=env.deploy_timeout, reporter=reporter)
    except ResourceFailedError:
        return driver.get_runtime(runtime.id)


def remove_runtime(driver: Driver, name: str) -> list[str]:
    """Delete the runtime's endpoints, then the runtime; what was deleted. A rerun after a kill
    finds less to delete, and nothing at all is fine."""
    runtime = driver.find_runtime(name)
    if runtime is None:
        return []
    removed = []
    for endpoint in driver.list_endpoints(runtime.id):
        driver.delete_endpoint(runtime.id, endpoint.id)
        removed.append(f"endpoint {endpoint.name}")
    driver.delete_runtime(runtime.id)
    return [*removed, f"runtime {runtime.name}"]
