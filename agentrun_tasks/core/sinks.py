"""Where a rotated AccessKey is written: the :class:`Sink` protocol and the ``credentials.sinks``
entries of an env file, checked before anything is created.

Each entry names a ``type`` and that type's fields, for example::

    credentials:
      sinks:
        - {type: dotenv, path: .env.prod}
        - {type: keyring}
        - {type: github, repo: org/app, environment: prod}
        - {type: gitlab, project: group/app, environment_scope: prod, protected: true}
        - {type: jenkins, url: https://ci.example.com, credential_id: aliyun-prod}
        - {type: bitbucket, workspace: team, repo: app, deployment: "{env-uuid}"}
        - {type: circleci, project: gh/org/app}          # or context: <context id>
        - {type: kms, secret_name: agentrun/prod-key}
        - {type: yunxiao, group: 1234, organization: <org id>}   # a Flow variable group of its own

Platforms that store one variable per request (GitHub, GitLab, Bitbucket, CircleCI) hold the key as
*one* variable, ``ALIYUN_ACCESS_KEY_PAIR_<PROFILE>`` = ``<id>:<secret>`` (``pair_var``), which the
credential chain reads before the separate names: written in one request, it is never a new id
beside an old secret. Where such a sink already has the separate ``id_var``/``secret_var`` (a
setup made by hand), they are updated after it (:func:`pair_writes`), so a job that maps only those
keeps working once the old key is deactivated. Sinks that replace both values in one write (a ``.env`` file, a Yunxiao
variable group) store ``ALIYUN_ACCESS_KEY_ID_<PROFILE>`` and ``ALIYUN_ACCESS_KEY_SECRET_<PROFILE>``
unless ``id_var``/``secret_var`` say otherwise; Jenkins (one username/password credential), KMS
(one JSON version) and the keyring (one entry) are one value anyway. Tokens come from the
environment variable ``token_env`` names (defaults below), never from the file;
``core/pipelines.sink_needs`` tells a pipeline which of them a rotation job must be given.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .credentials import env_suffix, join_pair, pair_var
from .errors import ConfigError, CredentialError
from .secrets import Secret

_VARS = {"id_var": None, "secret_var": None}
_PAIR = {"pair_var": None, **_VARS}
# type -> {field: default (None = optional, REQUIRED = must be given)}
REQUIRED = object()
FIELDS: dict[str, dict[str, Any]] = {
    "dotenv": {"path": None, **_VARS},
    "keyring": {"profile": None},
    "github": {"repo": REQUIRED, "environment": None, "token_env": "GITHUB_TOKEN", "api_url": "https://api.github.com",
               **_PAIR},
    "gitlab": {"project": None, "group": None, "environment_scope": "*", "protected": False, "masked": True,
               "token_env": "GITLAB_TOKEN", "url": "https://gitlab.com", **_PAIR},
    "jenkins": {"url": REQUIRED, "credential_id": REQUIRED, "store": "system", "domain": "_",
                "user_env": "JENKINS_USER", "token_env": "JENKINS_TOKEN"},
    "bitbucket": {"workspace": REQUIRED, "repo": REQUIRED, "deployment": None, "token_env": "BITBUCKET_TOKEN",
                  "api_url": "https://api.bitbucket.org/2.0", **_PAIR},
    "circleci": {"project": None, "context": None, "token_env": "CIRCLECI_TOKEN",
                 "api_url": "https://circleci.com/api/v2", **_PAIR},
    "kms": {"secret_name": REQUIRED, "region": None, "endpoint": None, "protocol": "https"},
    "yunxiao": {"group": REQUIRED, "organization": None, "token_env": "YUNXIAO_TOKEN",
                "url": "https://openapi-rdc.aliyuncs.com", **_VARS},
}
# A token variable that is unset falls back to these (GitHub's CLI uses GH_TOKEN).
TOKEN_FALLBACKS = {"GITHUB_TOKEN": ("GH_TOKEN",)}


@dataclass(frozen=True)
class SinkSpec:
    """One validated ``credentials.sinks`` entry: its type, its fields (defaults filled in), its name."""

    type: str
    fields: Mapping[str, Any]
    name: str  # stable: the journal records which sinks have the new key by this name

    def __getitem__(self, item: str) -> Any:
        return self.fields[item]


class Sink(Protocol):
    """A place that holds the environment's AccessKey for later runs."""

    name: str

    def preflight(self) -> None:
        """Prove the sink can be written (token accepted, target exists) without changing it."""

    def write(self, key_id: str, secret: Secret) -> None:
        """Store the key; repeating it is harmless."""

    def read_back(self, key_id: str, secret: Secret) -> bool | None:
        """True if the sink now holds this key, False if not, None if the sink cannot tell."""

    def held_id(self) -> str | None:
        """The key id the sink holds now, where it can be read (None: nothing, or not readable)."""


def parse(entries: Iterable[Mapping[str, Any]], *, profile: str, env_name: str, where: str) -> list[SinkSpec]:
    """Validated specs of ``entries`` (the env file's ``credentials.sinks``), or ConfigError (exit 2)."""
    specs = [_one(dict(entry), i, profile, env_name, where) for i, entry in enumerate(entries)]
    names = [s.name for s in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: credentials.sinks names the same sink twice ({', '.join(twice)}).")
    return specs


def _one(entry: dict, index: int, profile: str, env_name: str, where: str) -> SinkSpec:
    at = f"{where}: credentials.sinks[{index}]"
    kind = entry.pop("type", None)
    if kind not in FIELDS:
        hint = difflib.get_close_matches(str(kind), FIELDS, n=1)
        did = f" Did you mean '{hint[0]}'?" if hint else ""
        raise ConfigError(f"{at}: unknown sink type {kind!r}.{did} Known: {', '.join(FIELDS)}.")
    known = FIELDS[kind]
    for key in entry:
        if key not in known:
            hint = difflib.get_close_matches(key, known, n=1)
            did = f" Did you mean '{hint[0]}'?" if hint else ""
            raise ConfigError(f"{at}: unknown field {key!r} for a {kind} sink.{did} Known: {', '.join(known)}.")
    fields = {k: entry.get(k, None if v is REQUIRED else v) for k, v in known.items()}
    missing = [k for k, v in known.items() if v is REQUIRED and not entry.get(k)]
    if kind == "gitlab" and bool(fields["project"]) == bool(fields["group"]):
        missing.append("project or group (exactly one)")
    if kind == "circleci" and bool(fields["project"]) == bool(fields["context"]):
        missing.append("project or context (exactly one)")
    if missing:
        raise ConfigError(f"{at}: a {kind} sink needs {', '.join(missing)}.")
    suffix = env_suffix(profile)
    if "pair_var" in fields:
        fields["pair_var"] = fields["pair_var"] or pair_var(profile)
    if "id_var" in fields:
        fields["id_var"] = fields["id_var"] or f"ALIYUN_ACCESS_KEY_ID_{suffix}"
        fields["secret_var"] = fields["secret_var"] or f"ALIYUN_ACCESS_KEY_SECRET_{suffix}"
    if kind == "dotenv":
        fields["path"] = fields["path"] or f".env.{env_name}"
    if kind == "keyring":
        fields["profile"] = fields["profile"] or profile
    return SinkSpec(kind, fields, _name(kind, fields))


def _name(kind: str, f: Mapping[str, Any]) -> str:
    target = {
        "dotenv": lambda: f["path"], "keyring": lambda: f"agentrun-tasks/{f['profile']}",
        "github": lambda: f["repo"] + (f" environment {f['environment']}" if f["environment"] else ""),
        "gitlab": lambda: (f"project {f['project']}" if f["project"] else f"group {f['group']}")
        + f" scope {f['environment_scope']}",
        "jenkins": lambda: f"{f['url']} credential {f['credential_id']}",
        "bitbucket": lambda: f"{f['workspace']}/{f['repo']}" + (f" deployment {f['deployment']}"
                                                               if f["deployment"] else ""),
        "circleci": lambda: f"project {f['project']}" if f["project"] else f"context {f['context']}",
        "kms": lambda: f["secret_name"],
        "yunxiao": lambda: f"variable group {f['group']}",
    }[kind]()
    return f"{kind}:{target}"


def pair_writes(spec: SinkSpec, key_id: str, secret: Secret, present: set[str]) -> list[tuple[str, str]]:
    """What a one-variable sink writes, in order: the pair first (one request; the chain reads it
    first), then the separate id and secret variables where the sink already has them (``present``):
    a job mapping only those keeps working, though between those two requests it could read a torn
    pair, which is what the pair variable is for."""
    writes = [(spec["pair_var"], join_pair(key_id, secret.reveal()))]
    return writes + [(name, value) for name, value in ((spec["id_var"], key_id), (spec["secret_var"], secret.reveal()))
                     if name in present]


def token(spec: SinkSpec, environ: Mapping[str, str], var_field: str = "token_env") -> Secret:
    """The sink's API token from the environment, or a CredentialError naming the variable (exit 3)."""
    name = spec[var_field]
    for candidate in (name, *TOKEN_FALLBACKS.get(name, ())):
        value = (environ.get(candidate) or "").strip()
        if value:
            return Secret(value, source=candidate)
    raise CredentialError(f"The {spec.name} sink needs an API token in the environment variable {name}, which is "
                          f"not set; nothing was changed. Set it (as a CI secret) or name another variable with "
                          f"{var_field}: in the sink's entry.")



def from_source(sources: Mapping[str, str], env_name: str) -> list[dict]:
    """Without ``credentials.sinks``, the key goes back where it was found: the ``.env`` file (same
    variable names) or the keyring entry. A key from the process environment (CI secrets) or a task
    argument has no place to go back to: that is a ConfigError naming the fix."""
    id_source, secret_source = sources.get("access_key_id", ""), sources.get("access_key_secret", "")
    if id_source.startswith("keyring "):
        return [{"type": "keyring", "profile": id_source.rsplit("/", 1)[-1]}]
    if id_source.startswith(".env"):
        path, _, id_var = id_source.partition(" ")
        return [{"type": "dotenv", "path": path, "id_var": id_var, "secret_var": secret_source.partition(" ")[2]}]
    raise ConfigError(f"rotate-keys writes the new key to the places listed in credentials.sinks of "
                      f"envs/{env_name}.yaml, and it names none; the current key comes from {id_source or 'nowhere'}, "
                      "which cannot be written back. Add the CI platform(s) holding the key, e.g. "
                      "sinks: [{type: github, repo: org/app}].")
