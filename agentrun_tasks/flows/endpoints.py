"""Waiting for endpoints, with any driver: a flow never sends traffic to an endpoint that is not
READY with its URL (right after a write it can be CREATING/UPDATING with an empty URL)."""

from __future__ import annotations

from ..core.ports import Driver
from ..core.resources import Endpoint, settle_endpoint

DEFAULT_TIMEOUT = 300.0  # the devsapp component waits up to 5 minutes for an endpoint's URL


def ready(driver: Driver, runtime_id: str, endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> Endpoint:
    """``endpoint`` once READY with its URL (at once when it already is)."""
    if endpoint.ready:
        return endpoint
    return settle_endpoint(lambda: driver.find_endpoint(runtime_id, endpoint.name), endpoint.name, timeout=timeout)
