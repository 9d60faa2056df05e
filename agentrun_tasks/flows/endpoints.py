"""Endpoints and versions by hand (``endpoint.*``, ``version.*``, ``info``): what the runtime
serves, and the writes that change it; and waiting for endpoints with any driver: a flow never
sends traffic to an endpoint that is not READY with its URL (right after a write it can be
CREATING/UPDATING with an empty URL)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..core.errors import NotFoundError
from ..core.ports import Driver
from ..core.resources import Endpoint, Runtime, Version, settle_endpoint
from ..core.routing import require_versions

DEFAULT_TIMEOUT = 300.0  # the devsapp component waits up to 5 minutes for an endpoint's URL


def ready(driver: Driver, runtime_id: str, endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> Endpoint:
    """``endpoint`` once READY with its URL (at once when it already is)."""
    if endpoint.ready:
        return endpoint
    return settle_endpoint(lambda: driver.find_endpoint(runtime_id, endpoint.name), endpoint.name, timeout=timeout)


def publish(driver: Driver, runtime: Runtime, name: str, *, target_version: str, weights: Mapping[str, float],
            description: str | None) -> Endpoint:
    """Point ``name`` at ``target_version`` (and a canary's ``weights``), after checking every
    version named is published: a missing one is exit 2 with nothing written."""
    require_versions([target_version, *weights], [v.version for v in driver.list_versions(runtime.id)])
    return driver.put_endpoint(runtime.id, name, target_version=target_version, weights=dict(weights),
                               description=description)


def remove(driver: Driver, runtime_name: str, name: str) -> bool:
    """Delete endpoint ``name`` of the runtime; False (and nothing done) when it does not exist."""
    runtime = driver.require_runtime(runtime_name)
    endpoint = driver.find_endpoint(runtime.id, name)
    if endpoint is not None:
        driver.delete_endpoint(runtime.id, endpoint.id)
    return endpoint is not None


def publish_version(driver: Driver, runtime: Runtime, description: str) -> Version:
    """The runtime's current code (LATEST) as a new immutable version."""
    return driver.publish_version(runtime.id, description)


def versions(driver: Driver, runtime: Runtime) -> list[Version]:
    """The runtime's published versions."""
    return driver.list_versions(runtime.id)


def endpoints(driver: Driver, runtime: Runtime) -> list[Endpoint]:
    """The runtime's endpoints, with their traffic split."""
    return driver.list_endpoints(runtime.id)


def endpoint(driver: Driver, runtime: Runtime, name: str) -> Endpoint:
    """Endpoint ``name`` of the runtime; exit 2 when it does not exist."""
    found = driver.find_endpoint(runtime.id, name)
    if found is None:
        raise NotFoundError(f"endpoint {name!r} does not exist on runtime {runtime.name}.")
    return found


@dataclass(frozen=True)
class Described:
    """A runtime with its versions and endpoints; :meth:`to_dict` is ``invoke info --json``."""

    runtime: Runtime
    versions: list[Version]
    endpoints: list[Endpoint]

    def to_dict(self) -> dict:
        return {"runtime": self.runtime.to_dict(), "versions": [v.to_dict() for v in self.versions],
                "endpoints": [e.to_dict() for e in self.endpoints]}


def describe(driver: Driver, runtime: Runtime) -> Described:
    """What ``invoke info`` shows: the runtime, its versions and its endpoints."""
    return Described(runtime, versions(driver, runtime), endpoints(driver, runtime))
