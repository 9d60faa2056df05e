"""Which AccessKey an environment uses, and where it came from.

:func:`resolve` walks the sources in precedence order (explicit task arguments, the process
environment, ``<root>/.env.<env>``, ``<root>/.env``, the OS keyring) and, inside each source,
the name families in order (``ALIYUN_ACCESS_KEY_ID_<PROFILE>``, then the standard
``ALIBABA_CLOUD_ACCESS_KEY_ID``, then the generic ``ALIYUN_ACCESS_KEY_ID`` of AgentRun's CI/CD
guide, https://docs.agent.run/docs/tutorial/advanced/07.2-deploy-cicd). The key id and its secret
always come from one source and one family: a pair is never stitched together from two places.
It reads the mappings and files it is given, never ``os.environ``, and never mutates anything;
the keyring is reached only through the ``keystore`` it is passed.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import CredentialError
from ..model import EnvConfig
from ..secrets import Secret
from .names import FIELD_FAMILY, KEYRING_SERVICE, Family, env_suffix, name_families, pair_var, split_pair


class KeySource(Protocol):
    """What :func:`resolve` needs from a keyring: one mapping of :data:`FIELDS` per profile.

    ``warnings`` collects why a lookup failed (no backend, locked, timed out); a failed
    lookup returns ``None`` like a missing entry.
    """

    warnings: list[str]

    def get(self, profile: str) -> Mapping[str, str] | None: ...


@dataclass(frozen=True)
class Credentials:
    """One resolved AccessKey. ``sources`` maps each field to where it came from."""

    access_key_id: Secret
    access_key_secret: Secret
    security_token: Secret | None
    account_id: str | None
    sources: Mapping[str, str] = field(hash=False)
    warnings: tuple[str, ...] = ()

    def masked(self) -> dict:
        """A printable view: the id masked (``LTAI****abcd``), the secret's last four characters
        only, whether a token is set, the source of each, and any warnings."""
        return {
            "access_key_id": self.access_key_id.masked,
            "access_key_secret": self.access_key_secret.tail,
            "security_token": "set" if self.security_token else None,
            "account_id": self.account_id,
            "sources": dict(self.sources),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Attempt:
    """One source that was looked at: its label, the name pairs tried, or why it was skipped."""

    source: str
    names: tuple[str, ...] = ()
    note: str = ""

    def describe(self) -> str:
        if self.note:
            return f"{self.source}: {self.note}"
        return f"{self.source}: " + ", ".join(self.names)


class MissingCredentials(CredentialError):
    """No source held a complete key pair. ``attempts`` lists every source and name tried
    (``credentials.show --json`` prints them); the message stays one short paragraph."""

    def __init__(self, env: EnvConfig, attempts: list[Attempt], warnings: list[str]) -> None:
        self.attempts = tuple(attempts)
        self.warnings = tuple(warnings)
        self.env_name, self.profile = env.name, env.credentials.profile
        s = env_suffix(env.credentials.profile)
        # what rotation's one-variable sinks (GitHub, GitLab, Bitbucket, CircleCI) write
        pair = f" (or {pair_var(env.credentials.profile)}=<id>:<secret>)"
        looked = ", ".join(a.source + (f" ({_brief(a.note)})" if a.note else "")
                           for a in attempts if a.source != "argument")
        if env.emulator:
            fix = "start the local emulator with `invoke local.up`: it writes its key into .env.local."
        elif any(a.source.startswith("keyring") and a.note == "unavailable" for a in attempts):
            fix = f"set ALIYUN_ACCESS_KEY_ID_{s} and ALIYUN_ACCESS_KEY_SECRET_{s}{pair} (CI secrets, or in your shell)."
        else:
            fix = (f"set ALIYUN_ACCESS_KEY_ID_{s} and ALIYUN_ACCESS_KEY_SECRET_{s}{pair} (CI secrets, or in your "
                   f"shell), or store them with `invoke credentials.set --env {env.name}`.")
        super().__init__(f"No credentials for environment '{env.name}' (profile '{self.profile}'); looked in "
                         f"{looked}. Next: {fix}", hint=fix[0].upper() + fix[1:])

    @property
    def details(self) -> dict:
        tried = [{"source": a.source, "names": list(a.names), "note": a.note or None} for a in self.attempts]
        return {"env": self.env_name, "profile": self.profile, "found": False, "tried": tried,
                "warnings": list(self.warnings)}


def _brief(note: str) -> str:
    """``not read (credentials.allow_dotenv ...)`` -> ``not read``; ``no file /x/.env`` -> ``no file``."""
    return "no file" if note.startswith("no file") else note.split(" (")[0]


@dataclass
class _Source:
    label: str  # "env", ".env.prod", "keyring agentrun-tasks/prod", ...
    values: Mapping[str, str | None] | None  # None = skipped
    families: tuple[Family, ...]
    note: str = ""
    per_name: bool = True  # label each field with the variable name it came from


def resolve(
    env: EnvConfig,
    *,
    environ: Mapping[str, str],
    root: Path,
    keystore: KeySource | None = None,
    explicit: Mapping[str, str | None] | None = None,
) -> Credentials:
    """The first complete key pair in precedence order, or :class:`MissingCredentials` (exit 3).

    ``explicit`` holds task arguments keyed by :data:`FIELDS`; an explicit ``account_id``
    alone overrides the account of whatever pair is found. ``.env`` files are read only when
    ``env.credentials.allow_dotenv`` is true; a group/other-readable one gives a warning.
    """
    explicit = dict(explicit or {})
    warnings: list[str] = []
    attempts: list[Attempt] = []
    families = name_families(env)
    for source in _sources(env, environ, root, keystore, explicit, warnings, families):
        if source.values is None:
            attempts.append(Attempt(source.label, note=source.note))
            continue
        for fam in source.families:
            found = _take(source, fam)
            if found is not None:
                return _build(env, source, fam, found, explicit, warnings)
        attempts.append(Attempt(source.label, tuple(f.pair for f in source.families)))
    raise MissingCredentials(env, attempts, warnings)


def _sources(env: EnvConfig, environ: Mapping[str, str], root: Path, keystore: KeySource | None,
             explicit: Mapping[str, str | None], warnings: list[str],
             families: tuple[Family, ...]) -> Iterator[_Source]:
    """Yield the sources lazily: a later one (a file, the keyring) is read only if needed."""
    yield _Source("argument", explicit, (FIELD_FAMILY,))
    yield _Source("env", environ, families)
    # .env.<profile> too: an environment borrowing another's profile (preview uses dev's keys)
    # finds them in that environment's file.
    names = dict.fromkeys((f".env.{env.name}", f".env.{env.credentials.profile}", ".env"))
    for name in names:
        yield _dotenv_source(root / name, env, families, warnings)
    label = f"keyring {KEYRING_SERVICE}/{env.credentials.profile}"
    if keystore is None:
        yield _Source(label, None, (), note="not consulted")
        return
    seen = len(keystore.warnings)  # a keystore may be reused: only this lookup's warnings count
    entry = keystore.get(env.credentials.profile)
    failed = keystore.warnings[seen:]
    warnings.extend(failed)
    if entry is None:
        yield _Source(label, None, (), note="unavailable" if failed else "no entry")
    else:
        yield _Source(label, entry, (FIELD_FAMILY,), per_name=False)


def _dotenv_source(path: Path, env: EnvConfig, families: tuple[Family, ...], warnings: list[str]) -> _Source:
    label = path.name
    if not env.credentials.allow_dotenv:
        return _Source(label, None, (), note=f"not read (credentials.allow_dotenv is false in {env.path.name})")
    if not path.is_file():
        return _Source(label, None, (), note=f"no file {path}")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        warnings.append(f"{path} is readable by group/other (mode {mode:04o}); run `chmod 600 {path}`")
    from dotenv import dotenv_values  # python-dotenv; imported only when a file exists

    try:
        # interpolate=False: a secret holding "$" stays literal, and os.environ is not mixed in.
        values = dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError) as exc:
        warnings.append(f"could not read {path}: {type(exc).__name__}")
        return _Source(label, None, (), note="unreadable")
    return _Source(label, values, families)


def _value(values: Mapping[str, str | None] | None, name: str | None) -> str | None:
    """A set, non-blank value. CI systems expand an unset secret to "", which counts as unset.
    A skipped source (``values`` None) has none."""
    if not name or values is None:
        return None
    raw = values.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    return raw or None


def _take(source: _Source, fam: Family) -> tuple[str, str] | None:
    joined = _value(source.values, fam.pair_name)
    if joined:
        pair = split_pair(joined)
        if pair is None:
            raise CredentialError(f"{fam.pair_name} in {source.label} is not '<AccessKey id>:<secret>'; nothing else "
                                  f"was tried. Fix: set it to the id, a colon and the secret, or remove it.")
        return pair
    key_id, key_secret = _value(source.values, fam.key_id), _value(source.values, fam.key_secret)
    if key_id and key_secret:
        return key_id, key_secret
    if key_id or key_secret:
        have, missing = (fam.key_id, fam.key_secret) if key_id else (fam.key_secret, fam.key_id)
        raise CredentialError(
            f"Half a key pair in {source.label}: {have} is set but {missing} is not. The id and the "
            f"secret must come from the same place, so nothing else was tried. Fix: set {missing} "
            f"next to {have}, or remove {have}."
        )
    return None


def _build(env: EnvConfig, source: _Source, fam: Family, pair: tuple[str, str], explicit: Mapping[str, str | None],
           warnings: list[str]) -> Credentials:
    def where(name: str | None) -> str:  # only called with a name a value was read under
        return f"{source.label} {name}" if source.per_name else source.label

    joined = _value(source.values, fam.pair_name) is not None
    sources = {"access_key_id": where(fam.pair_name if joined else fam.key_id),
               "access_key_secret": where(fam.pair_name if joined else fam.key_secret)}
    token = _value(source.values, fam.security_token)
    if token:
        sources["security_token"] = where(fam.security_token)
    account = _value(explicit, "account_id")
    if account:
        sources["account_id"] = "argument account_id"
    elif account := _value(source.values, fam.account_id):
        sources["account_id"] = where(fam.account_id)
    elif account := env.credentials.account_id:
        sources["account_id"] = f"{env.path.name} credentials.account_id"
    return Credentials(
        access_key_id=Secret(pair[0], source=sources["access_key_id"]),
        access_key_secret=Secret(pair[1], source=sources["access_key_secret"]),
        security_token=Secret(token, source=sources["security_token"]) if token else None,
        account_id=account or None,
        sources=sources,
        warnings=tuple(warnings),
    )
