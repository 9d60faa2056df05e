"""Rotation test kit: every sink's platform served locally, what each sink now holds, and the
rotation invariants checked against the emulator's RAM.

    with SinkPlatforms(emulator_root).serving() as platforms:
        entries, environ = platforms.sink_entries(), platforms.environ()
        ...
        assert not invariant_problems(emulator_root, "local-deployer", platforms.held(), journal)
"""

from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator

from dotenv import dotenv_values

from ..adapters.ram_keys import RamKeys
from ..adapters.sinks import open_sink
from ..core import sinks as sinkspec
from ..core.credentials import split_pair
from ..core.retry import RetryPolicy
from ..core.rotation_journal import Journal
from ..core.secrets import Secret
from ..emulator.account import BOOTSTRAP_USER, read_credentials
from ..emulator.state import state_dir
from ..flows.rotate import Rotation
from .kms import KmsFake, emulator_secrets
from .platforms import BitbucketFake, CircleCIFake, GitHubFake, GitLabFake, JenkinsFake, YunxiaoFake

PROFILE = "LOCAL"
ID_VAR, SECRET_VAR = f"ALIYUN_ACCESS_KEY_ID_{PROFILE}", f"ALIYUN_ACCESS_KEY_SECRET_{PROFILE}"
PAIR_VAR = f"ALIYUN_ACCESS_KEY_PAIR_{PROFILE}"
TOKENS = {"GITHUB_TOKEN": "ghp-test-token", "GITLAB_TOKEN": "glpat-test-token", "JENKINS_USER": "rotator",
          "JENKINS_TOKEN": "jenkins-test-token", "BITBUCKET_TOKEN": "bb-test-token",
          "CIRCLECI_TOKEN": "circle-test-token", "YUNXIAO_TOKEN": "pt-yunxiao-test-token"}


class SinkPlatforms:
    """GitHub, GitLab, Jenkins, Bitbucket, CircleCI, Yunxiao and KMS fakes for one emulator's account."""

    def __init__(self, emulator_root: Path, *, keyring_entry: Callable[[], dict | None] | None = None) -> None:
        self.root = Path(emulator_root)
        self.keyring_entry = keyring_entry  # reads the keyring sink's entry, if the test uses one
        self.github = GitHubFake(TOKENS["GITHUB_TOKEN"])
        self.gitlab = GitLabFake(TOKENS["GITLAB_TOKEN"])
        self.jenkins = JenkinsFake(TOKENS["JENKINS_TOKEN"], user=TOKENS["JENKINS_USER"])
        self.bitbucket = BitbucketFake(TOKENS["BITBUCKET_TOKEN"])
        self.circleci = CircleCIFake(TOKENS["CIRCLECI_TOKEN"])
        self.yunxiao = YunxiaoFake(TOKENS["YUNXIAO_TOKEN"])
        self.kms = KmsFake(emulator_secrets(self.root), secrets=("agentrun/local",))

    @contextmanager
    def serving(self) -> Iterator["SinkPlatforms"]:
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
        return entries + ([{"type": "keyring"}] if keyring else [])

    def held(self) -> dict[str, tuple[str | None, str | None]]:
        """``{place: (key id, secret)}`` as every sink holds it now (None where nothing is)."""
        def pair(values: dict) -> tuple[str | None, str | None]:
            if PAIR_VAR in values:  # what the credential chain reads first
                return split_pair(values[PAIR_VAR]) or (None, None)
            return values.get(ID_VAR), values.get(SECRET_VAR)

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
        if self.keyring_entry is not None:
            entry = self.keyring_entry() or {}
            found["keyring"] = (entry.get("access_key_id"), entry.get("access_key_secret"))
        return found


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


def invariant_problems(root: Path, user: str, held: dict, journal: Journal | None, *,
                       written_once: bool = True) -> list[str]:
    """What breaks the rotation's promises right now (empty when all hold):

    * the user holds at most 2 keys;
    * every sink holds a key that works (active, with its secret) - once it was first written;
    * every active key is known to the journal (its old or new key, the key in use when idle, or,
      during the intent phase, a key created after the intent was recorded).
    """
    keys = ram_keys(root, user)
    problems = [f"{len(keys)} keys"] if len(keys) > 2 else []
    for place, (key_id, secret) in held.items():
        key = keys.get(key_id or "")
        if key_id is None and not written_once:
            continue
        if key is None or key["status"] != "Active" or key["secret"] != secret:
            problems.append(f"{place} holds no working key")
    in_use = {key_id for key_id, _ in held.values()}
    known = set(in_use)
    if journal is not None:
        known |= {journal.old_id, journal.new_id}
    for key_id, key in keys.items():
        if key["status"] != "Active" or key_id in known:
            continue
        intent = journal is not None and journal.phase == "creating" and journal.started_at and \
            datetime.fromisoformat(key["createDate"].replace("Z", "+00:00")).timestamp() >= \
            journal.started_at.timestamp() - 300
        if not intent:
            problems.append("an active key unknown to the journal")
    return problems
