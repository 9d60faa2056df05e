"""The :class:`Session`: one environment opened for one task, and what it opens for the flows
(driver, stores, code store, log sources, RAM keys, sinks, channels), lazily and once. Where
local and cloud differ, it is here, in data: the local environment points the same adapters at
the emulator over http."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.report import Reporter
from ..core.secrets import Secret
from . import logs
from .endpoints import ram_endpoint, sts_endpoint
from .local import EMULATOR_BUCKET, start_emulator

if TYPE_CHECKING:
    from ..adapters.keyring_store import KeyStore
    from ..adapters.openapi_connection import Connection
    from ..adapters.ram_keys import RamKeys
    from ..core.build import Artifact
    from ..core.cienv import CIContext
    from ..core.credentials import Credentials
    from ..core.model import EnvConfig
    from ..core.policy import Attached
    from ..core.ports import CodeStore, Driver, LogReader, LogSource, LogStores, StateStore
    from ..core.resources import Runtime
    from ..core.sinks import Sink
    from ..emulator.lifecycle import EmulatorInfo
    from ..flows.notify import Notifier


@dataclass
class Session:
    """An environment opened for one task: what the flows need, opened lazily and once."""

    root: Path
    env: EnvConfig
    ci: CIContext
    reporter: Reporter
    environ: dict
    _opened: dict[str, Any] = field(default_factory=dict, repr=False)

    def _once(self, key: str, opener: Callable[[], Any]) -> Any:
        if key not in self._opened:
            self._opened[key] = opener()
        return self._opened[key]

    def _emulator_info(self) -> EmulatorInfo:
        return self._once("emulator", self._start_emulator)

    def _start_emulator(self) -> EmulatorInfo:
        from ..emulator import lifecycle

        if lifecycle.status(self.root) is None:  # never silently: it keeps running after the task
            self.reporter.line(f"starting the local emulator (state in {self.root / '.agentrun' / 'local'}; "
                               "`invoke local.down` stops it)")
        return start_emulator(self.root)

    def credentials(self) -> Credentials:
        """The environment's credentials (first complete source wins); warnings go to the reporter."""
        return self._once("credentials", self._resolve_credentials)

    def account_id(self) -> str | None:
        """The account: as the env file or the credentials name it, else as STS reports it."""
        return self._once("account_id", lambda: self.credentials().account_id
                          or self.driver().caller_identity().get("AccountId"))

    def keystore(self) -> KeyStore:
        """The OS keyring entries of agentrun-tasks (one per credentials profile)."""
        from ..adapters.keyring_store import KeyStore

        return self._once("keystore", KeyStore)

    def _resolve_credentials(self) -> Credentials:
        from ..core import credentials, federation

        role = federation.plan(self.env, self.ci, self.environ)
        if role is not None:  # a role's temporary credentials (OIDC, or AssumeRole with the key below)
            from .federated import open_role_credentials

            sts = f"127.0.0.1:{self._emulator_info().port}" if self.env.emulator else sts_endpoint(self.env)
            key = lambda: credentials.resolve(self.env, environ=self.environ, root=self.root,  # noqa: E731
                                              keystore=self.keystore())
            role_creds = open_role_credentials(self.env, role, self.environ, sts_endpoint=sts, key=key)
            role_creds.ensure()  # a refusal is exit 3 before anything starts
            return role_creds  # type: ignore[return-value]
        creds = credentials.resolve(self.env, environ=self.environ, root=self.root, keystore=self.keystore())
        for warning in creds.warnings:  # e.g. a .env file others can read
            self.reporter.warn(warning)
        return creds

    def driver(self) -> Driver:
        """The environment's AgentRun driver (starting the emulator when it is the target)."""
        return self._once("driver", self._open_driver)

    def _open_driver(self) -> Driver:
        from ..adapters.openapi import Connection, OpenApiDriver

        env = self.env
        if env.emulator:
            endpoint = sts = f"127.0.0.1:{self._emulator_info().port}"
            protocol = "http"
        else:
            endpoint = env.control_endpoint or f"agentrun.{env.region}.aliyuncs.com"
            sts = sts_endpoint(env)
            protocol = env.protocol
        # A write refused while the runtime changes is waited out as long as a deploy may take.
        openapi = OpenApiDriver(Connection(endpoint=endpoint, protocol=protocol, region=env.region,
                                           credentials=self.credentials(), sts_endpoint=sts), env.retry_policy,
                                busy_timeout=env.deploy_timeout, workspace=env.agent.get("workspace"))
        if env.driver == "serverless-devs":  # runs the s CLI; the SDK only proves the identity
            from ..adapters.serverless_devs import ServerlessDevsDriver

            return ServerlessDevsDriver.open(env, self.root, self.environ, self.credentials(), identity=openapi)
        return openapi

    def emulator(self) -> EmulatorInfo:
        """The local emulator of this project, started if it is not running (its URL, pid, port)."""
        return self._emulator_info()

    def attached_policies(self, user: str) -> list[Attached]:
        """The RAM policies attached to ``user`` (RAM ListPoliciesForUser; the emulator serves RAM)."""
        from ..adapters.ram_policies import attached_policies

        return attached_policies(self._ram_connection(), user, self.env.retry_policy)

    def policy_document(self, attached: Attached) -> str:
        """A custom RAM policy's document (RAM GetPolicy)."""
        from ..adapters.ram_policies import policy_document

        return policy_document(self._ram_connection(), attached, self.env.retry_policy)

    def _ram_connection(self) -> Connection:
        from ..adapters.openapi_connection import Connection

        env = self.env
        local = env.emulator
        endpoint = f"127.0.0.1:{self._emulator_info().port}" if local else ram_endpoint(env)
        return Connection(endpoint=endpoint, protocol="http" if local else env.protocol, region=env.region,
                          credentials=self.credentials())

    def role_document(self, role_arn: str) -> dict:
        """RAM GetRole of ``role_arn`` (``invoke doctor`` reads its trust policy), called as this
        environment's credentials: on the emulator locally, else beside a non-aliyuncs
        control_endpoint, else ram.aliyuncs.com."""
        from .federated import role_document

        local = f"127.0.0.1:{self._emulator_info().port}" if self.env.emulator else None
        return role_document(self.env, role_arn, self.credentials(), ram_endpoint=local or ram_endpoint(self.env))

    def _oss(self) -> StateStore | None:
        """The environment's OSS store, or None when it names no bucket."""
        from ..adapters.oss_store import OssStateStore

        env, release = self.env, self.env.release
        if env.emulator:
            store = OssStateStore(self._emulator_info().oss_url, EMULATOR_BUCKET, release.state_prefix,
                                  self.credentials(), env.region, retry=env.retry_policy)
            store.ensure_bucket()
            return store
        if release.state_bucket:
            endpoint = release.state_endpoint or f"https://oss-{env.region}.aliyuncs.com"
            return OssStateStore(endpoint, release.state_bucket, release.state_prefix, self.credentials(),
                                 env.region, retry=env.retry_policy)
        return None

    def state_store(self) -> StateStore:
        """Release state: the OSS bucket, else a folder on this machine (with a warning)."""
        return self._once("state_store", self._open_state_store)

    def _open_state_store(self) -> StateStore:
        store = self._once("oss", self._oss)
        if store is not None:
            return store
        from ..adapters.file_store import FileStateStore

        self.reporter.warn(f"{self.env.path.name} names no release.state_bucket: locks and history are kept on "
                           "this machine only (.agentrun/state/) and do not protect releases from other CI "
                           "runners.")
        return FileStateStore(self.root / ".agentrun" / "state")

    def code_store(self, artifact: Artifact) -> CodeStore | None:
        """The OSS store for a package above the inline limit; None when the package is inlined."""
        if artifact.size <= self.env.inline_zip_limit:
            return None
        return self._once("oss", self._oss)

    def log_source(self, runtime: Runtime) -> LogSource | None:
        """Where the gates read the release endpoint's real traffic: the emulator's request log;
        on the cloud the runtime's SLS logstore with ``release.real_traffic``, else None (the
        probe alone decides)."""
        return logs.log_source(self, runtime)

    def log_reader(self, runtime: Runtime) -> LogReader:
        """What ``invoke logs`` reads: the emulator's request log and agent output locally; on the
        cloud the SLS logstore the runtime logs to (its live logConfiguration, else agent.logConfig)."""
        return logs.log_reader(self, runtime)

    def logstores(self) -> LogStores | None:
        """What makes the SLS project and logstore of ``logConfig: auto`` (the openapi driver on the
        cloud; the serverless-devs component makes its own, the emulator keeps its own log)."""
        return logs.logstores(self)

    def ram_keys(self) -> RamKeys:
        """RAM and STS for rotate-keys, called as the environment's own key (the emulator's, locally)."""
        from ..adapters.ram_keys import RamKeys

        env = self.env
        if env.emulator:
            ram = sts = f"127.0.0.1:{self._emulator_info().port}"
        else:
            ram, sts = ram_endpoint(env), sts_endpoint(env)
        return RamKeys(self.credentials(), region=env.region, ram_endpoint=ram, sts_endpoint=sts,
                       protocol="http" if env.emulator else env.protocol, policy=env.retry_policy)

    def use_key(self, key_id: str, secret: Secret) -> StateStore:
        """Sign with the verified new key of this environment from now on (rotate-keys calls this
        before it deactivates the old one); the state store, reopened with it if it is OSS."""

        creds = replace(self.credentials(), access_key_id=Secret(key_id, source="rotation"),
                        access_key_secret=secret, security_token=None)
        self._opened["credentials"] = creds
        if self._opened.get("oss") is None:
            return self.state_store()  # a folder on this machine: nothing signed
        for key in ("oss", "state_store", "driver"):
            self._opened.pop(key, None)
        return self.state_store()

    def sinks(self) -> list[Sink]:
        """Where rotate-keys writes a new key: credentials.sinks, else back where the key was found.
        Checked and opened before anything changes (an unknown type exits 2, a missing token 3)."""
        from ..adapters.sinks import open_sink
        from ..core import sinks

        env = self.env
        entries = env.credentials.sinks or sinks.from_source(self.credentials().sources, env.name)
        specs = sinks.parse(entries, profile=env.credentials.profile, env_name=env.name, where=env.path.name)
        return [open_sink(spec, root=self.root, environ=self.environ, credentials=self.credentials(),
                          region=env.region, policy=env.retry_policy) for spec in specs]

    def notifier(self) -> Notifier:
        """The environment's notification channels (``notify:``), opened once; values the env
        file keeps as ``{keyring: entry}`` are read from the OS keyring here."""
        from ..adapters.keyring_store import KeyStore
        from ..flows.notify import open_notifier

        return self._once("notifier", lambda: open_notifier(self.env, self.reporter, lambda e: KeyStore().read(e)))
