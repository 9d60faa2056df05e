"""The test component's forwarding mode: each ``s`` command done against an AgentRun emulator the
way the devsapp agentrun component 1.0.12 does it, answering in the component's output shapes.

What it keeps from the component: runtimes addressed by ``props.agent.name``; ``deploy`` zips
``code.src`` (or takes the OSS object), creates or updates, and waits for READY; ``endpoint
publish`` upserts by name, sends ``routingConfiguration`` only with ``--canary-version`` and
``--weight`` (each refused without the other) and does not wait; ``version publish`` answers
``{version, description, lastUpdatedAt, arn}``; errors are thrown with the component's messages
("agent runtime X not found", "Endpoint X not found").
"""

from __future__ import annotations

import base64
import io
import re
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..adapters.openapi import Connection, OpenApiDriver
from ..core.agentspec import runtime_input
from ..core.errors import AgentrunTasksError
from ..core.resources import FAILED, READY
from ..core.retry import RetryPolicy
from ..core.secrets import Secret

__all__ = ["forward"]


def forward(settings: dict, request: dict) -> dict:
    credential = request["credential"]
    creds = SimpleNamespace(access_key_id=Secret(credential["AccessKeyID"]),
                            access_key_secret=Secret(credential["AccessKeySecret"]), security_token=None)
    props = request["props"]
    driver = OpenApiDriver(Connection(endpoint=settings["endpoint"], protocol="http", region=props["region"],
                                      credentials=creds), RetryPolicy(attempts=3, initial=0.1, maximum=0.5, total=10))
    flags, words = _parse(request["args"])
    try:
        return {"output": _COMMANDS[request["command"]](driver, props, credential, flags, words)}
    except (AgentrunTasksError, ValueError, KeyError) as exc:
        return {"error": str(exc)}


def _parse(args: list[str]) -> tuple[dict, list[str]]:
    flags: dict[str, Any] = {}
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-t", "-o", "-a"):  # s's own options with a value
            i += 2
            continue
        if arg.startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            flags[arg[2:]] = args[i + 1]
            i += 2
            continue
        if arg.startswith("-"):
            flags[arg.lstrip("-")] = True
        else:
            words.append(arg)
        i += 1
    return flags, words


def _runtime(driver, agent):
    runtime = driver.find_runtime(agent["name"])
    if runtime is None:
        raise ValueError(f"agent runtime {agent['name']} not found")
    return runtime


def deploy(driver, props, credential, flags, words):
    agent = props["agent"]
    code = dict(agent.get("code") or {})
    if "src" in code:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as package:
            for path in sorted(Path(code["src"]).rglob("*")):
                if path.is_file():
                    package.write(path, str(path.relative_to(code["src"])))
        wire = {"zipFile": base64.b64encode(buffer.getvalue()).decode()}
    else:
        wire = {"ossBucketName": code["ossBucketName"], "ossObjectName": code["ossObjectName"]}
    spec = runtime_input(agent, account_id=credential.get("AccountID"), code=wire)
    existing = driver.find_runtime(agent["name"])
    runtime = driver.create_runtime(spec) if existing is None else driver.update_runtime(existing.id, spec)
    deadline = time.monotonic() + 120
    while runtime.status != READY:
        if runtime.status in FAILED:
            raise ValueError(f"agent runtime {agent['name']} is {runtime.status}: {runtime.status_reason}")
        if time.monotonic() > deadline:
            raise ValueError(f"agent runtime {agent['name']} is not READY after 120s")
        time.sleep(0.2)
        runtime = driver.get_runtime(runtime.id)
    return info(driver, props, credential, flags, words)


def info(driver, props, credential, flags, words):
    agent = props["agent"]
    runtime = _runtime(driver, agent)
    raw = runtime.raw
    endpoints = [{"id": e.id, "arn": "", "name": e.name, "url": e.url, "version": e.target_version,
                  "status": e.status, "description": e.description,
                  "routingConfig": {"weights": [{"version": v, "weight": w} for v, w in e.weights.items()]}}
                 for e in driver.list_endpoints(runtime.id)]
    return {"agent": {"id": runtime.id, "arn": raw.get("agentRuntimeArn", ""), "name": runtime.name,
                      "description": runtime.description, "artifactType": raw.get("artifactType", "Code"),
                      "status": runtime.status,
                      "resources": {k: raw.get(k) for k in ("cpu", "memory", "diskSize", "port")},
                      "timestamps": {"createdAt": runtime.created_at, "lastUpdatedAt": runtime.updated_at},
                      "region": props["region"], "endpoints": endpoints}}


def remove(driver, props, credential, flags, words):
    agent = props["agent"]
    runtime = driver.find_runtime(agent["name"])
    if runtime is not None:
        for endpoint in driver.list_endpoints(runtime.id):
            driver.delete_endpoint(runtime.id, endpoint.id)
        driver.delete_runtime(runtime.id)


def version(driver, props, credential, flags, words):
    agent = props["agent"]
    runtime = _runtime(driver, agent)
    if words[:1] == ["publish"]:
        published = driver.publish_version(runtime.id, flags.get("description") or "Published")
        return {"version": published.version, "description": published.description,
                "lastUpdatedAt": published.updated_at, "arn": ""}
    return [{"version": v.version, "description": v.description, "lastUpdatedAt": v.updated_at, "arn": ""}
            for v in driver.list_versions(runtime.id)]


def endpoint(driver, props, credential, flags, words):
    agent = props["agent"]
    runtime = _runtime(driver, agent)
    sub, name = (words or ["-"])[0], flags.get("endpoint-name")
    if sub == "list":
        return [{"name": e.name, "url": e.url or "-", "traffic": str(e.traffic()), "status": e.status or "-",
                 "description": e.description or "-"} for e in driver.list_endpoints(runtime.id)]
    if not name:
        raise ValueError(f"--endpoint-name is required for {sub} command")
    found = driver.find_endpoint(runtime.id, name)
    if sub == "publish":
        return _publish(driver, runtime, found, name, flags)
    if found is None:
        raise ValueError(f"Endpoint {name} not found")
    if sub == "remove":
        driver.delete_endpoint(runtime.id, found.id)
        return None
    weights = [{"version": v, "weight": w} for v, w in found.weights.items()]
    return {"id": found.id, "arn": "", "name": found.name, "url": found.url or "-",
            "targetVersion": found.target_version, "traffic": str(found.traffic()), "status": found.status or "-",
            "description": found.description or "-",
            "routingConfig": {"versionWeights": weights} if weights else None}


def _publish(driver, runtime, found, name, flags):
    canary, weight = flags.get("canary-version"), flags.get("weight")
    if weight is not None and not canary:
        raise ValueError("--canary-version is required when --weight is specified.")
    if canary and weight is None:
        raise ValueError("--weight is required when --canary-version is specified.")
    body: dict[str, Any] = {"targetVersion": flags.get("target-version") or "LATEST"}
    if flags.get("description"):
        body["description"] = flags["description"]
    if canary:
        body["routingConfiguration"] = {"versionWeights": [{"version": canary, "weight": float(weight)}]}
    from alibabacloud_agentrun20250910 import models as m

    client = driver.client
    if found is None:
        body["agentRuntimeEndpointName"] = name
        request = m.CreateAgentRuntimeEndpointRequest(body=m.CreateAgentRuntimeEndpointInput().from_map(body))
        driver._call("create endpoint", lambda: client.create_agent_runtime_endpoint(runtime.id, request))
    else:
        request = m.UpdateAgentRuntimeEndpointRequest(body=m.UpdateAgentRuntimeEndpointInput().from_map(body))
        driver._call("update endpoint", lambda: client.update_agent_runtime_endpoint(runtime.id, found.id, request))
    shown = driver.find_endpoint(runtime.id, name)
    return {"id": shown.id, "name": shown.name, "url": shown.url or "-", "targetVersion": shown.target_version,
            "status": shown.status or "-", "description": shown.description or "-"}


def logs(driver, props, credential, flags, words):
    for flag in ("start-time", "end-time"):
        if flag in flags and not _time_ok(str(flags[flag])):
            raise ValueError(f"The time format is incorrect: {flags[flag]}; use a timestamp in milliseconds or "
                             "yyyy-MM-ddTHH:mm:ssZ")
    return []


def _time_ok(text: str) -> bool:
    return bool(text.isdigit() or re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text))


_COMMANDS = {"deploy": deploy, "info": info, "remove": remove, "version": version, "endpoint": endpoint,
             "logs": logs}
