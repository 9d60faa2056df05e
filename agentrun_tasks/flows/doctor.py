"""``invoke doctor``: is this machine and this environment ready, and is its key least-privileged?

Each check reads the world and says ok, warn, fail (with what to fix) or skip (not needed
here). ``fix=True`` does only what is safe and local: it installs the pinned ``s`` into the
project folder. Nothing here prints or stores a secret: credentials are reported by source.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, cast

from ..adapters import command, s_cli
from ..adapters.ram_policies import user_from_arn
from ..core import federation, policy, trust_policy
from ..core.doctor import FAIL, OK, SKIP, WARN, Check, Diagnosis
from ..core.errors import AgentrunTasksError, CredentialError
from ..core.ports import Driver, Workspace

if TYPE_CHECKING:
    from ..adapters.sls_logs import SlsLogs
    from ..core.policy import Attached

NODE_MINIMUM = (18, 0)  # @serverless-devs/s 3 runs on Node 14.14+; 18 is the oldest Node still supported


class Running(Protocol):
    """The local emulator, once started."""

    @property
    def url(self) -> str: ...


class Diagnosed(Workspace, Protocol):
    """What doctor asks of a session besides what every flow does: the adapters whose readiness
    it checks, and the RAM reads behind the least-privilege and trust-policy checks."""

    def driver(self) -> Driver: ...
    def emulator(self) -> Running: ...
    def role_document(self, role_arn: str) -> dict: ...
    def attached_policies(self, user: str) -> list[Attached]: ...
    def policy_document(self, attached: Attached) -> str: ...


def diagnose(session: Diagnosed, *, fix: bool = False) -> Diagnosis:
    """Run every check for ``session``'s environment (a :class:`agentrun_tasks.session.Session`)."""
    found = Diagnosis()
    found.add(_python())
    for check in _serverless_devs(session, fix):
        found.add(check)
    if session.env.emulator:  # first: its first start writes the local key
        found.add(_guard("emulator", lambda: _emulator(session)))
    creds = found.add(_guard("credentials", lambda: _credentials(session)))
    identity: dict = {}
    if creds.status != FAIL:
        who = found.add(_guard("identity", lambda: _identity(session, identity)))
        if who.status == OK:
            runtime = found.add(_guard("runtime", lambda: _runtime(session)))
            if runtime.status == OK:
                found.add(_guard("logs", lambda: _logs(session)))
            found.add(_guard("least privilege", lambda: _privilege(session, identity)))
            role = federation.plan(session.env, session.ci, session.environ)
            if role is not None:
                found.add(_guard("trust policy", lambda: _trust(session, role)))
    found.policy = policy.minimal_policy(session.env, account_id=identity.get("AccountId"),
                                         caller_user=user_from_arn(str(identity.get("Arn") or "")))
    return found


def _guard(name: str, check: Callable[[], Check]) -> Check:
    """A check whose call failed becomes a failed check naming the error, not a crash of doctor."""
    try:
        return check()
    except AgentrunTasksError as exc:
        return Check(name, FAIL, str(exc), exc.hint, code=exc.exit_code)


def _python() -> Check:
    shown = ".".join(map(str, sys.version_info[:3]))
    return Check("python", OK, shown)


def _serverless_devs(session: Diagnosed, fix: bool) -> list[Check]:
    """Node, ``s``, the component cache and Docker: needed only by ``driver: serverless-devs``."""
    env, environ = session.env, session.environ
    if env.driver != "serverless-devs":
        why = f"not needed: driver {env.driver} uses the official SDK"
        return [Check(name, SKIP, why) for name in ("node", "s", "component cache")] + [_docker(environ)]
    checks = [_node(environ), _guard("s", lambda: _s(session, fix))]
    lock = s_cli.component_cache(environ) / ".s.lock"
    if lock.is_file():
        checks.append(Check("component cache", OK, f"{s_cli.COMPONENT} cached at {lock.parent}"))
    else:
        checks.append(Check("component cache", WARN, f"{s_cli.COMPONENT} is not cached ({lock.parent})",
                            "s downloads it from the Serverless Devs registry on first use: the machine must "
                            "reach it then (retried; a runner without that network fails there)"))
    checks.append(_docker(environ))
    return checks


def _s(session: Diagnosed, fix: bool) -> Check:
    root, environ = session.root, session.environ
    binary, fixed = s_cli.locate(root, environ), False
    if binary is None and fix:
        binary, fixed = s_cli.install(root, environ, session.env.retry_policy), True
    if binary is None:
        return Check("s", FAIL, "Serverless Devs CLI not found (project folder or PATH)",
                     f"invoke doctor --fix installs @serverless-devs/s@{s_cli.S_VERSION} into {s_cli.LOCAL_DIR}")
    shown = s_cli.version(binary, environ)
    if shown != s_cli.S_VERSION:
        return Check("s", WARN, f"{shown} at {binary}", f"the driver was verified with {s_cli.S_VERSION}; remove "
                     f"it from PATH and run invoke doctor --fix to install that version into {s_cli.LOCAL_DIR}")
    return Check("s", OK, f"{shown} at {binary}", fixed=fixed)


def _node(environ: Mapping[str, str]) -> Check:
    try:
        done = command.run(["node", "--version"], env=s_cli.tool_environ(environ), timeout=30)
    except AgentrunTasksError:
        done = None
    match = re.match(r"v(\d+)\.(\d+)", done.stdout.strip()) if done and done.returncode == 0 else None
    if done is None or match is None:
        return Check("node", FAIL, "Node.js not found", "install Node.js 18 or later (s runs on Node)")
    shown = done.stdout.strip()
    if (int(match.group(1)), int(match.group(2))) < NODE_MINIMUM:
        return Check("node", FAIL, shown, "install Node.js 18 or later")
    return Check("node", OK, shown)


def _docker(environ: Mapping[str, str]) -> Check:
    why = "needed only by a hand-run `s build`; agentrun-tasks builds without Docker"
    try:
        done = command.run(["docker", "version", "--format", "{{.Server.Version}}"],
                           env=s_cli.tool_environ(environ), timeout=30)
    except AgentrunTasksError:
        return Check("docker", SKIP, f"not installed ({why})")
    if done.returncode != 0:
        return Check("docker", SKIP, f"no Docker daemon answers ({why})")
    return Check("docker", OK, f"server {done.stdout.strip()} ({why})")


def _credentials(session: Diagnosed) -> Check:
    creds = session.credentials()
    if hasattr(creds, "plan"):  # a role's temporary credentials
        shown = creds.masked()
        return Check("credentials", OK, f"temporary credentials of {shown['role_arn']} ({shown['source']}, set by "
                     f"{shown['origin']}), expiring {shown['expiration']}")
    where = sorted(set(creds.sources.values()))
    detail = f"AccessKey from {', '.join(where)}" + ("" if creds.account_id else "; no account id")
    if creds.warnings:
        return Check("credentials", WARN, detail + ": " + " ".join(creds.warnings),
                     "keep .env files private (chmod 600) or move the keys to the keyring (invoke credentials.set)")
    return Check("credentials", OK, detail)


def _emulator(session: Diagnosed) -> Check:
    info = session.emulator()  # starts it when it is not running
    return Check("emulator", OK, f"the local AgentRun answers at {info.url}")


def identity(driver: Driver) -> dict:
    """Who the environment's key is (STS GetCallerIdentity: account, ARN), the cheapest signed call
    there is; a disabled, deleted or wrong key is exit 3 at once."""
    return driver.caller_identity()


def _identity(session: Diagnosed, into: dict) -> Check:
    into.update(identity(session.driver()))
    return Check("identity", OK, f"account {into.get('AccountId')}, {into.get('Arn')}")


def _runtime(session: Diagnosed) -> Check:
    name = session.env.agent_name
    runtime = session.driver().find_runtime(name)
    if runtime is None:
        return Check("runtime", WARN, f"{name} is not deployed in this environment", "invoke deploy")
    if runtime.failed:
        return Check("runtime", FAIL, f"{name} is {runtime.status}: {runtime.status_reason or 'no reason given'}",
                     "fix the cause, then invoke deploy", code=5)
    if runtime.busy:
        return Check("runtime", WARN, f"{name} is {runtime.status}", "wait for it: invoke deploy --wait")
    return Check("runtime", OK, f"{name} is {runtime.status}")


def _logs(session: Diagnosed) -> Check:
    """Can ``invoke logs`` and ``release.real_traffic`` read the runtime's SLS logstore? One
    search of an empty window proves the project, the logstore, its index and the key's access."""
    env = session.env
    if env.emulator:
        return Check("logs", SKIP, "the local emulator keeps its own request log")
    runtime = session.driver().require_runtime(env.agent_name)
    if not (runtime.raw.get("logConfiguration") or env.agent.get("logConfig")):
        return Check("logs", WARN, f"{runtime.name} keeps no logs: invoke logs and release.real_traffic have "
                     "nothing to read", "set agent.logConfig ({project, logstore}, or auto) and deploy")
    reader = cast("SlsLogs", session.log_reader(runtime))  # not the emulator (returned above): SLS
    reader.request_rows(time.time())
    return Check("logs", OK, f"SLS project {reader.sls.project}, logstore {reader.logstore} can be searched")


def _trust(session: Diagnosed, role: federation.RolePlan) -> Check:
    """Who else may assume the role: an OIDC role whose trust policy leaves ``oidc:sub``
    unrestricted lets any repository or branch of the provider deploy; an open ``oidc:aud``
    takes tokens minted for anything."""
    try:
        document = session.role_document(role.role_arn)["AssumeRolePolicyDocument"]
    except CredentialError as exc:
        return Check("trust policy", WARN, f"cannot read the trust policy of {role.role_arn} ({exc})",
                     "allow ram:GetRole on the role to let doctor check who may assume it")
    weak = [w.problem for w in trust_policy.weaknesses(document)
            if role.provider_arn is None or w.provider == role.provider_arn]
    if weak:
        return Check("trust policy", WARN, f"{role.role_arn}: " + "; ".join(dict.fromkeys(weak)),
                     "restrict oidc:sub to your repository and branch or environment (StringLike "
                     "repo:<owner>/<repo>:environment:<env>) and oidc:aud to sts.aliyuncs.com (StringEquals)")
    return Check("trust policy", OK, f"{role.role_arn}: oidc:sub and oidc:aud are restricted"
                 if role.provider_arn else f"{role.role_arn} is assumed with AssumeRole ({role.origin})")


def _privilege(session: Diagnosed, identity: dict) -> Check:
    env = session.env
    if identity.get("IdentityType") == "AssumedRoleUser":
        return Check("least privilege", SKIP, f"a role session ({identity.get('Arn')}): the role's own policies "
                     "decide; attach only the minimal policy below to it")
    user = env.credentials.ram_user or user_from_arn(str(identity.get("Arn") or ""))
    if user is None:
        return Check("least privilege", WARN, "the AccessKey is not a RAM user's (the account's own key?)",
                     "create a RAM user with only the minimal policy printed below and use its key")
    attached = session.attached_policies(user)
    broad = policy.too_broad(attached)
    names = ", ".join(p.name for p in attached) or "none"
    if broad:
        return Check("least privilege", WARN, f"RAM user {user} has {', '.join(broad)} (attached: {names})",
                     f"detach {', '.join(broad)} and attach a custom policy with the minimal document below")
    minting = [p.name for p in attached if p.type == "Custom" and
               policy.manages_others_keys(session.policy_document(p), user)]
    if minting:
        return Check("least privilege", WARN, f"{', '.join(minting)} let RAM user {user}'s key create, change or "
                     "delete the AccessKeys of any RAM user, administrators included",
                     f"scope their ram:*AccessKey actions to acs:ram::<account>:user/{user}, as the minimal "
                     "document below does")
    return Check("least privilege", OK, f"RAM user {user}: no administrator or full-access policy (attached: {names})")
