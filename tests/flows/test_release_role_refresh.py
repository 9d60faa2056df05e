"""A canary release signed by a role session that comes due many times over while it runs (an
injected clock): the role is assumed again with a fresh GitHub token each time, the release's
long-lived SDK client signs every later request with the new session (which the emulator
verifies, token included), and the release goes on undisturbed."""

from __future__ import annotations

import io
import itertools
import time

from test_release_canary import ENDPOINT, ENV, runtime_spec

from agentrun_tasks.adapters.federation import RoleCredentials, sts_assumer
from agentrun_tasks.adapters.openapi import Connection, OpenApiDriver
from agentrun_tasks.core.federation import RolePlan, TokenSource
from agentrun_tasks.core.report import Reporter
from agentrun_tasks.core.retry import NO_RETRY
from agentrun_tasks.flows.release.canary import Canary
from agentrun_tasks.testing.oidc_issuer import oidc_issuer, register_federation

pytest_plugins = ["agentrun_tasks.testing.emulator"]


def test_a_long_release_refreshes_its_role_session(emulator, tmp_path, monkeypatch):
    with oidc_issuer(tmp_path) as issuer:
        monkeypatch.setenv("SSL_CERT_FILE", str(issuer.ca_file))
        role_arn, provider_arn = register_federation(emulator.openapi_config(), issuer, sub="repo:acme/agent:*")
        env = issuer.github_env()
        plan = RolePlan(role_arn=role_arn, provider_arn=provider_arn, session_name="agentrun-github-7",
                        duration_s=3600, origin="test", token=TokenSource("github", env["ACTIONS_ID_TOKEN_REQUEST_URL"]))
        # Every signed request sees ten more minutes pass: the session's refresh point (45 min)
        # comes every few requests, many times during the release.
        ticks = itertools.count()
        creds = RoleCredentials(plan, "ci", sts_assumer("ci", endpoint=emulator.endpoint, protocol="http",
                                                        region="cn-hangzhou", base_credentials=lambda: None,
                                                        policy=NO_RETRY),
                                environ=env, clock=lambda: 1_000_000.0 + 600 * next(ticks))
        driver = OpenApiDriver(Connection(endpoint=emulator.endpoint, protocol="http", region="cn-hangzhou",
                                          credentials=creds), NO_RETRY)
        runtime = driver.create_runtime(runtime_spec("refresh"))
        deadline = time.monotonic() + 60
        while (runtime := driver.get_runtime(runtime.id)).busy and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [driver.publish_version(runtime.id, f"v{i}").version for i in (1, 2)] == ["1", "2"]
        driver.put_endpoint(runtime.id, ENDPOINT, target_version="1", weights={})
        before = creds.assumed
        report = Canary(driver, runtime, ENV, Reporter(out=io.StringIO(), err=io.StringIO()), candidate="2").run()
        assert report.result == "promoted"
        assert creds.assumed > before + 2
        assert len(issuer.issued) == creds.assumed
