"""Tasks of the ``credentials`` namespace: see and store the AccessKey each environment uses."""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING

from invoke import task

from ..core.errors import ConfigError, CredentialError
from ._common import ENV_HELP, JSON_HELP, cli_errors, collection

if TYPE_CHECKING:
    from ..core.credentials import KeySource
    from ..core.report import Reporter
    from ..core.secrets import Secret

__all__ = ["check", "ns", "set_", "show"]


@task(help={"env": ENV_HELP, "json": JSON_HELP})
@cli_errors
def show(c, env=None, json=False):
    """Show the AccessKey an environment would use, masked, and where each part comes from.

    Never prints a secret: the id appears as LTAI****abcd, the secret as its last four
    characters (****abcd), a security token only as set. When nothing is found it exits 3
    (with --json, the error document lists every source and variable name tried).

    An environment with credentials.oidc (or ALIBABA_CLOUD_ROLE_ARN, _OIDC_PROVIDER_ARN and
    _OIDC_TOKEN_FILE) or credentials.role_arn shows the role, how it is assumed and when the
    temporary credentials expire (it assumes the role to know).

    Sources of an AccessKey, first complete pair wins: task arguments, the process environment,
    .env.<env>, .env.<profile>, .env, then the OS keyring (service 'agentrun-tasks', one entry per
    profile). Names, in each source: ALIYUN_ACCESS_KEY_ID_<PROFILE> /
    ALIYUN_ACCESS_KEY_SECRET_<PROFILE> / ALIYUN_SECURITY_TOKEN_<PROFILE> /
    ALIYUN_ACCOUNT_ID_<PROFILE>, then ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET /
    ALIBABA_CLOUD_SECURITY_TOKEN, then ALIYUN_ACCESS_KEY_ID / _SECRET / ALIYUN_ACCOUNT_ID
    (<PROFILE> is credentials.profile of envs/<env>.yaml, upper-cased, '-' -> '_'; an
    emulator environment reads only the first family). The id and the secret always come
    from the same source and family. .env files are skipped when the env file sets
    credentials.allow_dotenv: false (the production default).
    """
    from ..session import open_session

    session = open_session(c, env, json=json)
    cfg, reporter = session.env, session.reporter
    # Missing credentials exit 3; under --json the error document lists every source tried. A
    # role (credentials.oidc, credentials.role_arn) is assumed here, to show its expiry.
    creds = session.credentials()
    data = {"env": cfg.name, "profile": cfg.credentials.profile, "found": True, **creds.masked()}
    return reporter.result(data, human=_show)


def _show(reporter: Reporter, data: dict) -> None:
    reporter.line(f"environment {data['env']} (profile {data['profile']})")
    if data.get("role_arn"):
        via = "OIDC, token from " + data["token_from"] if data["source"] == "oidc" else "AssumeRole"
        reporter.line(f"role {data['role_arn']} ({via}; set by {data['origin']}), session {data['session_name']}, "
                      f"expires {data['expiration']}")
    fields = ("access_key_id", "access_key_secret", "security_token", "account_id")
    reporter.table(["field", "value", "source"], [(f, data[f] or "-", data["sources"].get(f, "-")) for f in fields])


@task(name="set", help={"env": ENV_HELP})
@cli_errors
def set_(c, env=None):
    """Store an environment's AccessKey in the OS keyring, typed at hidden prompts.

    Asks for the AccessKey id, its secret and (optionally) the account id without echoing
    them, and stores them as one keyring entry: service 'agentrun-tasks', user = the
    environment's credentials.profile, replacing any previous entry. Needs a terminal: in CI
    give the keys as environment variables (ALIYUN_ACCESS_KEY_ID_<PROFILE>, ...) instead.
    Afterwards it says which source `credentials.show` would actually use, in case an
    environment variable or .env file takes precedence over the keyring (the order is in
    `invoke --help credentials.show`).
    """
    from ..core.credentials import env_suffix
    from ..session import open_session

    session = open_session(c, env)
    cfg, reporter = session.env, session.reporter
    profile = cfg.credentials.profile
    if not sys.stdin.isatty():
        s = env_suffix(profile)
        raise ConfigError(
            f"credentials.set asks for the AccessKey at a hidden prompt and needs a terminal; stdin is "
            f"not one, so nothing was stored. Run it in an interactive shell, or give the keys as "
            f"environment variables ALIYUN_ACCESS_KEY_ID_{s} and ALIYUN_ACCESS_KEY_SECRET_{s}."
        )
    store = session.keystore()
    store.check_writable(profile)  # before the prompts: no secrets typed for nothing
    reporter.line(f"Storing the AccessKey of environment '{cfg.name}' in keyring agentrun-tasks/{profile}.")
    key_id = _ask_required("AccessKey ID: ")
    key_secret = _ask_required("AccessKey secret: ")
    account = _ask("Account ID (optional, Enter to skip): ")
    entry = {
        "access_key_id": key_id.reveal(),
        "access_key_secret": key_secret.reveal(),
        "account_id": account.reveal() if account else None,
    }
    store.set(profile, entry)
    if store.get(profile) != {k: v for k, v in entry.items() if v}:
        raise ConfigError(f"The OS keyring did not keep the entry agentrun-tasks/{profile} (read-back differs); "
                          "check the backend chosen by keyring (`keyring --list-backends`).")
    reporter.line(f"Stored {key_id.masked} in keyring agentrun-tasks/{profile}.")
    _say_which_wins(session, store)


def _ask(prompt: str) -> Secret | None:
    """The value typed at a hidden prompt; None for an empty answer."""
    # getpass writes the prompt to the terminal and turns echo off while reading.
    from ..core.secrets import Secret

    try:
        value = getpass.getpass(prompt).strip()
    except EOFError:  # Ctrl-D: the person gave up
        raise ConfigError(f"No value given for '{prompt.rstrip(': ')}' (end of input); nothing was stored.") from None
    return Secret(value, source="prompt") if value else None


def _ask_required(prompt: str) -> Secret:
    value = _ask(prompt)
    if value is None:
        raise ConfigError(f"No value given for '{prompt.rstrip(': ')}'; nothing was stored.")
    return value


def _say_which_wins(session, store: KeySource) -> None:
    from ..core.credentials import resolve

    try:
        creds = resolve(session.env, environ=session.environ, root=session.root, keystore=store)
    except CredentialError as exc:
        session.reporter.warn(f"credentials.show would fail: {exc}")
        return
    where = creds.sources["access_key_id"]
    if not where.startswith("keyring"):
        session.reporter.warn(f"{where} takes precedence over the keyring entry; remove it to use the stored key.")


@task(help={"env": ENV_HELP, "json": JSON_HELP})
@cli_errors
def check(c, env=None, json=False):
    """Prove the environment's AccessKey works: STS GetCallerIdentity (account, ARN).

    Resolves the key exactly as credentials.show does, then makes the cheapest signed call
    there is. A disabled, deleted or wrong key exits 3 at once (never retried).
    """
    from ..flows.doctor import identity
    from ..session import open_control

    session, driver = open_control(c, env, json=json)
    data = {"env": session.env.name, "access_key_id": session.credentials().access_key_id.masked,
            "source": session.credentials().sources.get("access_key_id"), **identity(driver)}
    return session.reporter.result(data)


ns = collection("credentials", show, set_, check)
