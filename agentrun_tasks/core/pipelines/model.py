"""What every generated pipeline shares, whatever the platform: the commands, the Git-Flow refs,
the secret names, the install step and the file header.

A pipeline is a platform's way of deciding *when* a command runs; *what* it does is always one
``invoke`` line, so a release behaves the same on every platform (the library detects the
platform and refuses what the environment's protection refuses). Pure: builds text only.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from ..credentials import env_suffix, pair_var
from ..errors import ConfigError
from ..sinks import SinkSpec

# -- the commands (every step after the install step is one of these) -------------------------
TEST = "invoke ci.test"
DEPLOY_DEV = "invoke deploy --env dev --yes"
RELEASE_PROD = "invoke release --env prod --yes"
DEPLOY_PREVIEW = "invoke deploy --env preview --yes"
REMOVE_PREVIEW = "invoke remove --env preview --yes"
# The optional input is expanded by the shell from an environment variable, never pasted into
# the script by the CI's template engine (which would be a script injection).
ROLLBACK = 'invoke rollback --env prod --yes ${TO_VERSION:+--to-version "$TO_VERSION"}'
PROMOTE = "invoke promote --env prod --yes"
ROTATE = "invoke rotate-keys --env prod --min-age 90d --yes"

# -- Git Flow (the same map as core.cienv.DEFAULT_BRANCH_MAP) -----------------------------------
DEV_BRANCH = "develop"
PROD_BRANCHES = ("main", "master")
HOTFIX_PREFIX = "hotfix/"
PREVIEW_PREFIXES = ("feature/", "bugfix/")
# A release tag is "v" then a digit (v1.2.3), the branch map's tag:v[0-9]*, spelled on each
# platform in its own pattern language (glob, regex, brace list) but always the same rule.
TAG_PREFIX = "v"
TAG_REGEX = "^v[0-9]"

# Weekly, Monday 03:17 UTC (off the top of the hour, where schedulers are crowded);
# rotate-keys --min-age 90d turns a weekly run into a quarterly rotation.
WEEKLY_CRON = "17 3 * * 1"

KINDS = ("test", "dev", "prod", "preview", "manual", "rotate")  # the job groups --jobs selects


def secret_names(profile: str) -> tuple[str, str, str]:
    """The names the credential chain reads first for ``profile`` (``Options.profile`` gives an
    environment's: prod's, dev's, preview's is dev's by default)."""
    suffix = env_suffix(profile)
    return (f"ALIYUN_ACCESS_KEY_ID_{suffix}", f"ALIYUN_ACCESS_KEY_SECRET_{suffix}", f"ALIYUN_ACCOUNT_ID_{suffix}")


def pair_secret(profile: str) -> str:
    """The one-variable ``<id>:<secret>`` a rotation writes to platforms that store one value per
    request (core.sinks); the credential chain reads it before the separate names. A platform whose
    jobs get only the secrets the file names (GitHub) must name it too, or a rotated key never
    reaches the jobs of a project that holds only the pair."""
    return pair_var(profile)


# Notification channels read their webhooks from the environment (notify: in envs/*.yaml with
# ${env('DINGTALK_WEBHOOK')}); the deploy, release and rotation tasks notify by themselves.
NOTIFY_SECRETS = ("DINGTALK_WEBHOOK", "DINGTALK_SECRET", "SLACK_WEBHOOK")


RUNTIME_LOCK = "requirements.lock"  # what deploy, release, rollback and rotation install: no test tools
TEST_LOCK = "requirements-test.lock"  # what the test job installs: the runtime plus the test extra
LOCK_COMMANDS = (f"uv pip compile pyproject.toml --universal -o {RUNTIME_LOCK}",
                 f"uv pip compile pyproject.toml --extra test --universal -o {TEST_LOCK}")


@dataclass(frozen=True)
class SinkNeeds:
    """What the prod rotation job needs from the platform, read from ``credentials.sinks`` of
    envs/prod.yaml: the environment variables its sinks read API tokens from, and the Jenkins
    credential a ``jenkins`` sink writes (every prod stage must read the key from that one)."""

    tokens: tuple[str, ...] = ()
    jenkins_credential: str | None = None
    github_environments: tuple[str, ...] = ()  # what its github sinks write ("" = repository secrets)


def sink_needs(specs: Iterable[SinkSpec]) -> SinkNeeds:
    """The tokens and the Jenkins credential of validated sink specs; ConfigError (exit 2) for a
    token variable no CI platform can hold (every one takes letters, digits and _, no leading
    digit) or for two jenkins sinks (the prod stages can read one credential)."""
    tokens: list[str] = []
    credentials, github = [], []
    for spec in specs:
        for field in ("user_env", "token_env"):
            name = spec.fields.get(field)
            if name and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ConfigError(f"envs/prod.yaml: the {spec.name} sink reads its token from {name!r}, which no CI "
                                  "platform allows as a secret's name (letters, digits and _, not starting with a "
                                  f"digit); name another variable with {field}:.")
            if name and name not in tokens:
                tokens.append(name)
        if spec.type == "jenkins":
            credentials.append(spec["credential_id"])
        if spec.type == "github":
            github.append(spec["environment"] or "")
    if len(set(credentials)) > 1:
        raise ConfigError(f"envs/prod.yaml names {len(credentials)} jenkins sinks ({', '.join(credentials)}); the "
                          "Jenkinsfile's prod stages read the key from one credential, so keep one jenkins sink.")
    return SinkNeeds(tuple(tokens), credentials[0] if credentials else None, tuple(dict.fromkeys(github)))


@dataclass(frozen=True)
class Options:
    """What ``invoke ci.init`` lets a project choose. The same options give the same bytes."""

    python: str = "3.12"
    kinds: tuple[str, ...] = KINDS
    uv: str = "uv>=0.9,<1"
    oidc: tuple[str, ...] = ()  # environments whose jobs get a CI OIDC token instead of AccessKeys
    sinks: SinkNeeds = SinkNeeds()
    install_self: bool = True  # False where pyproject.toml declares no package (see installs_itself)
    profiles: tuple[tuple[str, str], ...] = ()  # (env, credentials.profile) of the env files that exist

    def has(self, kind: str) -> bool:
        return kind in self.kinds

    def profile(self, env: str) -> str:
        """The credential profile whose key variables ``env``'s jobs get: what its env file says (by
        default the env's own name, as the credential chain reads it), else prod's for prod and dev's
        for the others (a preview deploys with dev's keys)."""
        return dict(self.profiles).get(env) or ("prod" if env == "prod" else "dev")

    @property
    def install_uv(self) -> str:
        """Where the platform has no uv of its own (GitHub has astral-sh/setup-uv)."""
        return f'python -m pip install --quiet --disable-pip-version-check "{self.uv}"'

    def install_project(self, lock: str = RUNTIME_LOCK) -> str:
        """uv into the job's Python from a lock file, then the project itself without resolving again.

        ``--system`` because each job is a fresh container or runner: no venv to activate in every
        later step (Jenkins cannot even change PATH inside a container). uv's cache, keyed on the
        lock files, makes a warm install a matter of linking files. No ``--compile-bytecode``:
        compiling every module of the stack costs 13 - 16 s of a 16 - 20 s warm install here
        (benchmarks/install_bench.py), while a job's ``invoke`` compiles only what it imports, once
        (about 1.5 s), and later ``invoke`` steps of the job reuse that.
        ``--no-deps``: the lock already names every package, nothing is left to resolve.
        ``-e .`` only for a project with a package of its own: building one is most of a warm
        install's time, and a project that declares none (``agentrun-tasks init`` writes
        ``packages = []``) has nothing to build: its ``tasks.py`` is read in place.
        """
        install = f"uv pip install --system -r {lock} --no-deps" + (" -e ." if self.install_self else "")
        # Offline first: with the cache restored, asking the index again about every pinned
        # package is most of a warm install's time; a cold or stale cache makes the offline
        # attempt fail before anything is installed, and the second one downloads.
        return f"{install.replace('--system', '--system --offline')} || {install}"

    def install_lines(self, lock: str = RUNTIME_LOCK) -> list[str]:
        return [self.install_uv, self.install_project(lock)]

    @property
    def locks(self) -> tuple[str, ...]:
        """The lock files the jobs install from: the test lock only where a test job exists."""
        return (RUNTIME_LOCK, TEST_LOCK) if self.has("test") else (RUNTIME_LOCK,)


CI_ENV = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}  # CI machines have no keyring


def header(platform: str, command: str, options: Options, comment: str = "#") -> str:
    """The first lines of every generated file: where it came from, how to refresh it, and the
    secrets the rotation job needs beyond the keys (they follow envs/prod.yaml's sinks)."""
    lines = [f"Generated by `{command}` (agentrun-tasks); edit the options, not this file,",
             f"and check it with `{command} --check`. Secrets, approvals and schedules: docs/ci.md ({platform}).",
             "The install steps are keyed on the lock files: " + "; ".join(f"`{c}`" for c in LOCK_COMMANDS) + "."]
    if options.has("rotate") and options.sinks.tokens:
        lines.append("rotate-keys writes the new key to envs/prod.yaml's credentials.sinks, with the API tokens in "
                     + ", ".join(options.sinks.tokens) + ".")
    return "".join(f"{comment} {line}\n" for line in lines)


def dump_yaml(data: dict) -> str:
    """Block-style YAML in insertion order, long lines kept whole (a command is never folded)."""
    yaml = YAML()  # round-trip: it writes multi-line commands as literal blocks
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump(_literal(data), buffer)
    return buffer.getvalue()


def _literal(value: object) -> object:
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    return value


_READS = re.compile(r"(?:^|\s)(?:-r|--requirement|-c|--constraint)[\s=]+([^\s;|&]+)|(?:^|\s)-e\s+([^\s;|&]+)")


def install_inputs(text: str) -> list[str]:
    """The project's files a rendered pipeline's install steps read (``-r requirements.lock``,
    ``-e .`` -> ``pyproject.toml``), in order of first use, relative to the project root."""
    found: list[str] = []
    for requirement, editable in _READS.findall(text):
        name = requirement or ("pyproject.toml" if editable.strip("'\"") in (".", "./") else "")
        if name and name not in found:
            found.append(name)
    return found


@dataclass(frozen=True)
class GeneratedFile:
    path: str  # relative to the output directory, with / separators
    text: str
