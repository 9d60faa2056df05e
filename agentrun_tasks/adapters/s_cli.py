"""Running the Serverless Devs CLI ``s``: where it is, installing it, and one call of it classified.

``s`` is the project-local install (``.agentrun/tools/s``, put there by ``invoke doctor --fix``)
or the one on PATH. Its quirks (README.md, "driver: serverless-devs"; the recorded runs in tests/fixtures/s/) decide
the shape of a call:

- credentials only through its environment (``AccountID``, ``AccessKeyID``, ``AccessKeySecret``,
  which beat any ``-a``/``access:``), or, with an STS token, the ``<name>_serverless_devs_key``
  JSON selected by ``-a <name>_serverless_devs_key``; never ``s config add``, never argv;
- a mutating call runs without ``-o``, so a component failure keeps exit 101; a read runs with
  ``-o json --silent``, where a failure exits 0 with empty output, so empty or invalid JSON is a
  failure, whose message the same read without ``-o`` then gives;
- errors are printed on stdout, in an ``Error Message:`` block;
- exit 1 is a tool-level failure: the component registry or the network (retried as transient),
  or a usage error; exit 100 a command the component does not have.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import secrets
from ..core.childenv import allowed
from ..core.errors import (
    AgentrunTasksError,
    ConfigError,
    CredentialError,
    NotFoundError,
    ResourceFailedError,
    TransientError,
)
from ..core.retry import RetryPolicy
from . import command

if TYPE_CHECKING:
    from ..core.ports import AccountKey

S_VERSION = "3.1.10"  # @serverless-devs/s, the version these rules were observed with
COMPONENT = "agentrun@1.0.12"  # devsapp/agentrun, pinned in every s.yaml the driver writes
LOCAL_DIR = Path(".agentrun") / "tools" / "s"  # project-local install, under the project root
KEY_ALIAS = "agentrun_tasks_serverless_devs_key"
# What s and npm need besides core.childenv.BASE: proxies, CA bundles, where s keeps its home.
_CHILD_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
                "all_proxy", "NODE_EXTRA_CA_CERTS", "NODE_ENV", "serverless_devs_config_home")
_CHILD_PREFIXES = ("npm_config_",)
_VERSION = re.compile(r"@serverless-devs/s:\s*([0-9][^,\s]*)")
_TRANSIENT = re.compile(r"ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|ECONNREFUSED|socket hang up|network timeout"
                        r"|Throttling|ServiceUnavailable|InternalError|\b50[234]\b", re.IGNORECASE)
_CREDENTIALS = re.compile(r"Not found access|InvalidAccessKeyId|SignatureDoesNotMatch|Forbidden|NoPermission"
                          r"|not authorized|InvalidSecurityToken", re.IGNORECASE)
_NOT_FOUND = re.compile(r"\bnot found\b|NotFound|does not exist", re.IGNORECASE)


def s_home(environ: Mapping[str, str]) -> Path:
    """Where ``s`` keeps its config, logs and component cache when run by this module
    (``serverless_devs_config_home`` moves it; the CI variables that would move it on Yunxiao are
    not passed to ``s``)."""
    return Path(environ.get("serverless_devs_config_home") or environ.get("HOME") or Path.home()) / ".s"


def component_cache(environ: Mapping[str, str], component: str = COMPONENT) -> Path:
    """The cached component's folder; ``s`` uses it without any download once it holds ``.s.lock``."""
    return s_home(environ) / "components" / "devsapp.cn" / "v3" / component


def locate(root: Path, environ: Mapping[str, str]) -> Path | None:
    """The project-local ``s`` if installed, else the one on PATH, else None."""
    local = root / LOCAL_DIR / "node_modules" / ".bin" / "s"
    if local.exists():
        return local
    found = shutil.which("s", path=environ.get("PATH"))
    return Path(found) if found else None


def version(binary: Path, environ: Mapping[str, str]) -> str:
    """``s -v``'s version of ``@serverless-devs/s``."""
    done = command.run([str(binary), "-v"], env=tool_environ(environ), timeout=60)
    match = _VERSION.search(done.stdout)
    if done.returncode != 0 or not match:
        raise ResourceFailedError(f"`{done.command}` did not report a version (exit {done.returncode}): "
                                  f"{_tail(done.stdout + done.stderr)}")
    return match.group(1)


def install(root: Path, environ: Mapping[str, str], policy: RetryPolicy = RetryPolicy()) -> Path:
    """``npm install`` the pinned ``@serverless-devs/s`` into the project-local folder; its ``s``."""
    prefix = root / LOCAL_DIR
    prefix.mkdir(parents=True, exist_ok=True)
    argv = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save",
            f"@serverless-devs/s@{S_VERSION}"]

    def attempt() -> None:
        done = command.run(argv, env=tool_environ(environ), timeout=600)
        if done.returncode == 0:
            return
        text = _tail(done.stderr + done.stdout)
        if _TRANSIENT.search(text):
            raise TransientError(f"`{done.command}` could not reach the npm registry: {text}")
        raise ResourceFailedError(f"`{done.command}` failed (exit {done.returncode}): {text}")

    policy.call(attempt)
    return prefix / "node_modules" / ".bin" / "s"


def tool_environ(environ: Mapping[str, str]) -> dict:
    """What ``s``, ``npm`` and ``node`` inherit: an allow-list (no AccessKey, no CI token, and no CI
    variable, so ``s`` behaves the same on a laptop and in CI)."""
    return allowed(environ, names=_CHILD_NAMES, prefixes=_CHILD_PREFIXES)


def child_environ(environ: Mapping[str, str], credentials: AccountKey) -> tuple[dict, list[str]]:
    """The environment for ``s`` and the extra arguments that pick its credentials (no secret in them)."""
    env = tool_environ(environ)
    account = credentials.account_id or ""
    key_id, secret = credentials.access_key_id.reveal(), credentials.access_key_secret.reveal()
    if credentials.security_token is None:
        env.update(AccountID=account, AccessKeyID=key_id, AccessKeySecret=secret)
        return env, []
    env[KEY_ALIAS] = json.dumps({"AccountID": account, "AccessKeyID": key_id, "AccessKeySecret": secret,
                                 "SecurityToken": credentials.security_token.reveal()})
    return env, ["-a", KEY_ALIAS]


@dataclass
class SCli:
    """``s`` bound to one s.yaml, one identity and one retry policy."""

    binary: Path
    template: Path  # the s.yaml passed with -t
    environ: Mapping[str, str]  # the parent environment (credential variables are replaced)
    credentials: AccountKey
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 1200.0  # s deploy itself waits up to 15 min for READY

    def mutate(self, args: Sequence[str]) -> str:
        """Run a changing command (without ``-o``, so its failure keeps its exit code); its stdout."""
        return self.policy.call(lambda: self._checked(self._run(args)))

    def read(self, args: Sequence[str]) -> Any:
        """Run a read with ``-o json --silent``; the parsed JSON. Empty or invalid output is a failure:
        the command is run again without ``-o`` to learn (and raise) the real error."""
        def attempt() -> Any:
            done = self._checked(self._run([*args, "-o", "json", "--silent"]))
            try:
                value = json.loads(done) if done.strip() else None
            except json.JSONDecodeError:
                value = None
            if isinstance(value, (dict, list)):
                return value
            self._checked(self._run(args))  # raises with the component's message
            raise ResourceFailedError(f"`s {' '.join(args)}` printed no JSON and no error: {_tail(done) or 'nothing'}")
        return self.policy.call(attempt)

    def _run(self, args: Sequence[str]) -> command.Completed:
        env, access = child_environ(self.environ, self.credentials)
        return command.run([str(self.binary), *args, *access, "-t", str(self.template)], env=env,
                           cwd=self.template.parent, timeout=self.timeout)

    def _checked(self, done: command.Completed) -> str:
        if done.returncode == 0:
            return done.stdout
        raise classify(done)


def error_message(output: str) -> str:
    """The ``Error Message:`` block ``s`` prints on stdout, else the last lines of the output."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("Error Message:"):
            block = []
            for text in lines[i + 1:]:
                if not text.strip():
                    break
                block.append(text.strip())
            if block:
                return " ".join(block)
    return _tail(output)


def classify(done: command.Completed) -> AgentrunTasksError:
    """The library error for a failed ``s`` call (its message redacted, argv holding no secret)."""
    message = secrets.redact(error_message(done.stdout + "\n" + done.stderr))
    what = f"`{secrets.redact(done.command)}` failed (exit {done.returncode}): {message}"
    if _CREDENTIALS.search(message):
        return CredentialError(what)
    if _TRANSIENT.search(message):
        if done.returncode == 1:
            what += (" (the Serverless Devs registry or network could not be reached; s needs it unless the "
                     f"component is cached under {COMPONENT})")
        return TransientError(what)
    if done.returncode == 101 and _NOT_FOUND.search(message):
        return NotFoundError(what)
    if done.returncode == 100:
        return ConfigError(f"{what}. The component {COMPONENT} lacks this command.")
    if done.returncode == 1 and re.search(r"unknown option|unknown command", message, re.IGNORECASE):
        return AgentrunTasksError(f"{what} (agentrun-tasks called s wrongly: a bug)")
    return ResourceFailedError(what)


def _tail(text: str, lines: int = 6) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(kept[-lines:])
