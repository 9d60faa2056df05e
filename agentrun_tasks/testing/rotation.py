"""Rotation test kit: every sink's platform served locally, what each sink now holds, the
rotation invariants checked against the emulator's RAM, and :class:`KillSwitch`, which stops a run
right before its n-th write (RAM, a sink's request, the journal), deterministically.

    with SinkPlatforms(emulator_root).serving() as platforms:
        entries, environ = platforms.sink_entries(), platforms.environ()
        ...
        assert not invariant_problems(emulator_root, "local-deployer", platforms.held(), journal)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from dotenv import dotenv_values

from ..adapters.ram_keys import RamKeys
from ..adapters.sinks import open_sink
from ..core import sinks as sinkspec
from ..core.credentials import resolve
from ..core.errors import CredentialError
from ..core.model import CredentialsConfig, EnvConfig
from ..core.retry import RetryPolicy
from ..core.rotation_journal import Journal
from ..core.secrets import Secret
from ..emulator.account import BOOTSTRAP_USER, read_credentials
from ..emulator.state import state_dir
from ..flows.rotation import Rotation
from .kms import KmsFake, emulator_secrets
from .platforms import BitbucketFake, CircleCIFake, GitHubFake, GitLabFake, JenkinsFake, YunxiaoFake

__all__ = ["ID_VAR", "ONE_PER_TYPE", "PAIR_VAR", "PROFILE", "SECRET_VAR", "TOKENS", "UNPROVEN", "KillSwitch", "Killed",
           "LocalCredentials", "SinkPlatforms", "invariant_problems", "job_reads", "local_credentials", "local_ram",
           "local_rotation", "ram_keys"]

PROFILE = "LOCAL"
ID_VAR, SECRET_VAR = f"ALIYUN_ACCESS_KEY_ID_{PROFILE}", f"ALIYUN_ACCESS_KEY_SECRET_{PROFILE}"
PAIR_VAR = f"ALIYUN_ACCESS_KEY_PAIR_{PROFILE}"
TOKENS = {"GITHUB_TOKEN": "ghp-test-token", "GITLAB_TOKEN": "glpat-test-token", "JENKINS_USER": "rotator",
          "JENKINS_TOKEN": "jenkins-test-token", "BITBUCKET_TOKEN": "bb-test-token",
          "CIRCLECI_TOKEN": "circle-test-token", "YUNXIAO_TOKEN": "pt-yunxiao-test-token"}


class SinkPlatforms:
    """GitHub, GitLab, Jenkins, Bitbucket, CircleCI, Yunxiao and KMS fakes for one emulator's account."""

    def __init__(self, emulator_root: Path, *, keyring_entry: Callable[[], dict | None] | None = None,
                 one_per_type: bool = False) -> None:
        self.root = Path(emulator_root)
        self.one_per_type = one_per_type  # one sink of each type (the fault matrix) instead of every scope
        self.keyring_entry = keyring_entry  # reads the keyring sink's entry, if the test uses one
        self.github = GitHubFake(TOKENS["GITHUB_TOKEN"])
        self.gitlab = GitLabFake(TOKENS["GITLAB_TOKEN"])
        self.jenkins = JenkinsFake(TOKENS["JENKINS_TOKEN"], user=TOKENS["JENKINS_USER"])
        self.bitbucket = BitbucketFake(TOKENS["BITBUCKET_TOKEN"])
        self.circleci = CircleCIFake(TOKENS["CIRCLECI_TOKEN"])
        self.yunxiao = YunxiaoFake(TOKENS["YUNXIAO_TOKEN"])
        self.kms = KmsFake(emulator_secrets(self.root), secrets=("agentrun/local",))

    @contextmanager
    def serving(self) -> Iterator[SinkPlatforms]:
        with ExitStack() as stack:
            for fake in (self.github, self.gitlab, self.jenkins, self.bitbucket, self.circleci, self.yunxiao,
                         self.kms):
                stack.enter_context(fake.serving())
            yield self

    def environ(self) -> dict[str, str]:
        return dict(TOKENS)

    def sink_entries(self, *, keyring: bool = False) -> list[dict]:
        """Every sink type (both scopes where a platform has two), pointed at the fakes."""
        entries: list[dict] = [
            {"type": "dotenv", "path": ".env.local"},
            {"type": "github", "repo": "org/app", "api_url": self.github.url},
            {"type": "github", "repo": "org/app", "environment": "prod", "api_url": self.github.url},
            {"type": "gitlab", "project": "42", "environment_scope": "prod", "protected": True,
             "url": self.gitlab.url},
            {"type": "gitlab", "group": "7", "url": self.gitlab.url},
            {"type": "jenkins", "url": self.jenkins.url, "credential_id": "aliyun"},
            {"type": "bitbucket", "workspace": "team", "repo": "app", "api_url": self.bitbucket.url},
            {"type": "bitbucket", "workspace": "team", "repo": "app", "deployment": "{prod-env}",
             "api_url": self.bitbucket.url},
            {"type": "circleci", "project": "gh/org/app", "api_url": self.circleci.url},
            {"type": "circleci", "context": "ctx-1", "api_url": self.circleci.url},
            {"type": "yunxiao", "group": "1234", "organization": "org-1", "url": self.yunxiao.url},
            {"type": "kms", "secret_name": "agentrun/local", "endpoint": self.kms.endpoint, "protocol": "http"},
        ]
        if self.one_per_type:
            entries = [entries[i] for i in ONE_PER_TYPE]
        return entries + ([{"type": "keyring"}] if keyring else [])

    def held(self) -> dict[str, tuple[str | None, str | None]]:
        """``{place: (key id, secret)}`` as a CI job reading that one sink gets it now (None where it gets
        nothing): variables through the library's own credential chain."""
        def pair(values: dict) -> tuple[str | None, str | None]:
            return job_reads(values)

        dotenv = dotenv_values(self.root / ".env.local", interpolate=False)
        jenkins = self.jenkins.values.get("aliyun", {})
        kms = self.kms.current("agentrun/local") or {}
        found = {
            "dotenv": pair(dotenv),
            "github repo": pair(self.github.values.get("org/app", {})),
            "github environment": pair(self.github.values.get("org/app environment prod", {})),
            "gitlab project": pair(self.gitlab.values.get("projects 42 scope prod", {})),
            "gitlab group": pair(self.gitlab.values.get("groups 7 scope *", {})),
            "jenkins": (jenkins.get("username"), jenkins.get("password")),
            "bitbucket repo": pair(self.bitbucket.values.get("team/app", {})),
            "bitbucket deployment": pair(self.bitbucket.values.get("team/app deployment {prod-env}", {})),
            "circleci project": pair(self.circleci.values.get("project gh/org/app", {})),
            "circleci context": pair(self.circleci.values.get("context ctx-1", {})),
            "yunxiao": pair(self.yunxiao.values.get("1234", {})),
            "kms": (kms.get("AccessKeyId"), kms.get("AccessKeySecret")),
        }
        if self.one_per_type:
            found = {place: found[place] for i, place in enumerate(found) if i in ONE_PER_TYPE}
        if self.keyring_entry is not None:
            entry = self.keyring_entry() or {}
            found["keyring"] = (entry.get("access_key_id"), entry.get("access_key_secret"))
        return found


class Killed(BaseException):
    """A kill at an exact point, in-process: a BaseException, so no ``except Exception`` of the
    code under test handles it (``finally`` blocks still run, which a SIGKILL would skip)."""


class KillSwitch:
    """Wraps every write a rotation makes and raises :class:`Killed` right before write number
    ``before`` (0-based), or right after the write ``after`` names (its number, or its label).
    ``writes`` lists the writes done, by label (``ram CreateAccessKey``, ``sink github:org/app``,
    ``journal verified ...``), so a switch that never fires traces them. A sink makes one writing
    request per write (tests/adapters/test_rotation_sinks.py counts them), so wrapping ``write`` is
    wrapping that request; one that also keeps separate id/secret variables in step makes those
    after it (tests/flows/test_rotate.py kills one between them)."""

    def __init__(self, before: int | None = None, *, after: int | str | None = None) -> None:
        self.at, self.after = before, after
        self.writes: list[str] = []

    def before(self, label: str) -> None:
        if self.at is not None and len(self.writes) == self.at:
            raise Killed(f"killed before write {self.at} ({label})")

    def done(self, label: str) -> None:
        self.writes.append(label)
        if self.after in (label, len(self.writes) - 1):
            raise Killed(f"killed right after {label}")

    def wrap(self, obj, name: str, label: Callable[..., str]) -> None:
        original = getattr(obj, name)

        def guarded(*args, **kwargs):
            what = label(*args, **kwargs)
            self.before(what)
            result = original(*args, **kwargs)
            self.done(what)
            return result
        setattr(obj, name, guarded)

    def install(self, run: Rotation) -> Rotation:
        self.wrap(run.ram, "create_key", lambda user: "ram CreateAccessKey")
        self.wrap(run.ram, "set_status", lambda user, key_id, status: f"ram UpdateAccessKey {status}")
        self.wrap(run.ram, "delete_key", lambda user, key_id: "ram DeleteAccessKey")
        for sink in run.sinks:
            self.wrap(sink, "write", lambda key_id, secret, name=sink.name: f"sink {name}")
        run.store = _CountedStore(run.store, self)  # a proxy: the world's store itself stays unwrapped
        return run


class _CountedStore:
    """A state store whose journal writes go through a :class:`KillSwitch`; the lock's (refreshed
    from a keep-alive thread) and every read pass straight through."""

    def __init__(self, store, switch: KillSwitch) -> None:
        self._store, self._switch = store, switch

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def _counted(self, key: str, write: Callable[[], None], what: str) -> None:
        if not key.startswith("rotation/"):
            return write()
        self._switch.before(what)
        write()
        self._switch.done(what)

    def put(self, key: str, data: bytes) -> None:
        self._counted(key, lambda: self._store.put(key, data), f"journal {_phase((data,))}")

    def delete(self, key: str) -> None:
        self._counted(key, lambda: self._store.delete(key), "journal deleted")


def _phase(data: tuple) -> str:
    if not data:
        return "deleted"
    journal = Journal.from_json(data[0])
    return journal.phase + (f" touched {len(journal.touched)} written {len(journal.written)}"
                            if journal.phase in ("verified",) else "")


def job_reads(variables: dict) -> tuple[str | None, str | None]:
    """The key a job whose environment holds ``variables`` resolves (the credential chain of an
    environment with profile ``local``), or ``(None, None)``."""
    env = EnvConfig(name="job", path=Path("envs/job.yaml"), region="cn-hangzhou", driver="openapi", agent={},
                    emulator=True, credentials=CredentialsConfig(profile=PROFILE.lower(), allow_dotenv=False))
    try:
        found = resolve(env, environ={k: v or "" for k, v in variables.items()}, root=Path("/nonexistent"))
    except CredentialError:
        return None, None
    return found.access_key_id.reveal(), found.access_key_secret.reveal()


# dotenv, github environment, gitlab group, jenkins, bitbucket deployment, circleci context, yunxiao, kms
ONE_PER_TYPE = (0, 2, 4, 5, 7, 9, 10, 11)


@dataclass(frozen=True)
class LocalCredentials:
    access_key_id: Secret
    access_key_secret: Secret
    security_token: Secret | None = None


def local_credentials(root: Path) -> LocalCredentials:
    """The emulator account's key as ``<root>/.env.local`` holds it now (rotations change it)."""
    key_id, secret, _ = read_credentials(root)
    return LocalCredentials(Secret(key_id, source=".env.local"), secret)


def local_ram(root: Path, endpoint: str, credentials=None) -> RamKeys:
    """RAM and STS of the emulator listening on ``endpoint``, as ``credentials`` (default: .env.local's)."""
    return RamKeys(credentials or local_credentials(root), region="cn-hangzhou", ram_endpoint=endpoint,
                   sts_endpoint=endpoint, protocol="http", policy=RetryPolicy(attempts=2, total=5))


def local_rotation(root: Path, endpoint: str, platforms: SinkPlatforms, store, reporter, **fields) -> Rotation:
    """A rotation of the emulator's bootstrap user into every sink of ``platforms`` (and the keyring),
    as the session would open it; ``fields`` set the rest of :class:`Rotation` (options, fault, ...)."""
    creds = local_credentials(root)
    specs = sinkspec.parse(platforms.sink_entries(keyring=platforms.keyring_entry is not None), profile="local",
                           env_name="local", where="envs/local.yaml")
    opened = [open_sink(s, root=root, environ=platforms.environ(), credentials=creds, region="cn-hangzhou",
                        policy=RetryPolicy(attempts=2, total=5)) for s in specs]
    return Rotation(user=BOOTSTRAP_USER, ram=local_ram(root, endpoint, creds), store=store, sinks=opened,
                    credentials=creds, ci=_CI, reporter=reporter, **fields)


_CI = SimpleNamespace(actor="tester", run_url=None, build_id=None, sha=None)  # what Records reads of a CI context


def ram_keys(root: Path, user: str) -> dict[str, dict]:
    """The user's keys as the emulator's RAM holds them: ``{id: {status, secret, createDate}}``."""
    keys = json.loads((state_dir(root) / "state.json").read_text())["keys"]
    return {key_id: key for key_id, key in keys.items() if key["user"] == user}


UNPROVEN = "an active key only the journal's intent explains (a kill inside CreateAccessKey)"


def invariant_problems(root: Path, user: str, held: dict, journal: Journal | None, *,
                       written_once: bool = True) -> list[str]:
    """What breaks the rotation's promises right now (empty when all hold):

    * the user holds at most 2 keys;
    * a job reading any one sink gets a working key (active, with its secret) - once it was written;
    * every active key is one the journal records (old, new, or created by this tool) or one a sink
      holds; the one exception, :data:`UNPROVEN`, is reported as such.
    """
    keys = ram_keys(root, user)
    problems = [f"{len(keys)} keys"] if len(keys) > 2 else []
    for place, (key_id, secret) in held.items():
        key = keys.get(key_id or "")
        if key_id is None and not written_once:
            continue
        if key is None or key["status"] != "Active" or key["secret"] != secret:
            problems.append(f"{place} holds no working key")
    known = {key_id for key_id, _ in held.values()}
    if journal is not None:
        known |= {journal.old_id, journal.new_id, *journal.created}
    for key_id, key in keys.items():
        if key["status"] == "Active" and key_id not in known:
            problems.append(UNPROVEN if journal is not None and journal.phase == "creating"
                            else "an active key the journal does not record")
    return problems
