"""The contract suite's two targets and its report.

``target`` is the local emulator (always) and a real AgentRun account, which runs only when
``AGENTRUN_CONTRACT_CLOUD=1`` and ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET`` are set (region
``AGENTRUN_CONTRACT_REGION``, default cn-hangzhou); otherwise it is skipped, never failed. Every
test records what it saw with ``observe``; at the end the observations are written, one file per
target, to ``AGENTRUN_CONTRACT_REPORT_DIR`` (default ``.agentrun/contract/``) as Markdown.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agentrun_tasks.testing.emulator import running_emulator

OPT_IN = "AGENTRUN_CONTRACT_CLOUD"
REPORT_DIR = "AGENTRUN_CONTRACT_REPORT_DIR"
_OBSERVED: dict[str, dict[str, object]] = {}


@dataclass
class Target:
    """Where the suite runs: an SDK client, a name prefix for what it creates, and a poll budget."""

    name: str
    client: object
    prefix: str
    timeout: float
    created: list = field(default_factory=list)  # runtime ids to delete at the end

    def observe(self, question: str, answer: object) -> None:
        _OBSERVED.setdefault(self.name, {})[question] = answer


def _cloud_config():
    from alibabacloud_tea_openapi.models import Config

    key, secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID"), os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    if os.environ.get(OPT_IN) != "1" or not (key and secret):
        pytest.skip(f"the cloud target runs only with {OPT_IN}=1 and ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET set")
    region = os.environ.get("AGENTRUN_CONTRACT_REGION", "cn-hangzhou")
    return Config(access_key_id=key, access_key_secret=secret, region_id=region,
                  endpoint=f"agentrun.{region}.aliyuncs.com")


@pytest.fixture(scope="session", params=["emulator", "cloud"])
def target(request, tmp_path_factory):
    from alibabacloud_agentrun20250910.client import Client

    prefix = f"contract-{uuid.uuid4().hex[:8]}"
    if request.param == "cloud":
        found = Target("cloud", Client(_cloud_config()), prefix, timeout=900.0)
        yield found
        _clean_up(found)
        return
    with running_emulator(tmp_path_factory.mktemp("contract")) as emu:
        emu.set_faults(latency=0.1)  # cloud-like order of states, scaled down
        yield Target("emulator", Client(emu.openapi_config()), prefix, timeout=60.0)


def _clean_up(target: Target) -> None:
    """Delete what the suite created on a real account: endpoints first, then the runtime."""
    from alibabacloud_agentrun20250910 import models as ar

    for runtime_id in target.created:
        try:
            items = target.client.list_agent_runtime_endpoints(
                runtime_id, ar.ListAgentRuntimeEndpointsRequest(page_size=100)).body.data.items or []
            for item in items:
                target.client.delete_agent_runtime_endpoint(runtime_id, item.agent_runtime_endpoint_id)
            deadline = time.monotonic() + target.timeout
            while time.monotonic() < deadline:
                try:
                    target.client.delete_agent_runtime(runtime_id)
                    break
                except Exception:  # endpoints still deleting: try again
                    time.sleep(5)
        except Exception as exc:  # report, do not fail the run over clean-up
            print(f"contract clean-up of {runtime_id} failed: {exc}")


def pytest_sessionfinish(session, exitstatus) -> None:
    directory = Path(os.environ.get(REPORT_DIR) or Path(str(session.config.rootpath)) / ".agentrun" / "contract")
    for name, answers in _OBSERVED.items():
        directory.mkdir(parents=True, exist_ok=True)
        lines = [f"# AgentRun contract report: {name}", "",
                 f"Run {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}. Each row is what the platform answered.",
                 "", "| question | answer |", "| --- | --- |"]
        lines += [f"| {q} | `{json.dumps(a, sort_keys=True, default=str)}` |" for q, a in sorted(answers.items())]
        (directory / f"report-{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
