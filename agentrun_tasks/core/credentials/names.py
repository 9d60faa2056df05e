"""Where an AccessKey is looked for: the variable-name families (``ALIYUN_ACCESS_KEY_ID_<PROFILE>``,
the standard ``ALIBABA_CLOUD_*``, the generic ``ALIYUN_*``), the one-variable ``<id>:<secret>``
pair rotation writes, and the OS keyring's service name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import EnvConfig

KEYRING_SERVICE = "agentrun-tasks"
FIELDS = ("access_key_id", "access_key_secret", "security_token", "account_id")


@dataclass(frozen=True)
class Family:
    """The names of one credential set inside a source. ``pair`` names one variable holding
    ``<id>:<secret>`` (what rotation writes to CI platforms that store one variable per request:
    it changes in one write, so a job never reads a new id beside an old secret); when set it wins
    over the two separate names."""

    key_id: str
    key_secret: str
    security_token: str | None = None
    account_id: str | None = None
    pair_name: str | None = None

    @property
    def pair(self) -> str:
        return f"{self.key_id} + {self.key_secret}"


FIELD_FAMILY = Family(*FIELDS)  # explicit arguments and keyring entries use the field names
STANDARD_FAMILY = Family("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                         "ALIBABA_CLOUD_SECURITY_TOKEN")
GENERIC_FAMILY = Family("ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET", None, "ALIYUN_ACCOUNT_ID")


def env_suffix(profile: str) -> str:
    """``prod-cn`` -> ``PROD_CN``: the suffix of the per-environment variable names."""
    return re.sub(r"[^A-Za-z0-9]", "_", profile).upper()


def name_families(env: EnvConfig) -> tuple[Family, ...]:
    """The variable-name families consulted in the environment and ``.env`` files, in order.

    An emulator environment skips the generic names, so a developer's real cloud keys
    exported in their shell never reach the local emulator.
    """
    s = env_suffix(env.credentials.profile)
    specific = Family(f"ALIYUN_ACCESS_KEY_ID_{s}", f"ALIYUN_ACCESS_KEY_SECRET_{s}", f"ALIYUN_SECURITY_TOKEN_{s}",
                      f"ALIYUN_ACCOUNT_ID_{s}", pair_var(profile=env.credentials.profile))
    return (specific,) if env.emulator else (specific, STANDARD_FAMILY, GENERIC_FAMILY)


def pair_var(profile: str) -> str:
    """``ALIYUN_ACCESS_KEY_PAIR_<PROFILE>``: the one variable holding ``<id>:<secret>``."""
    return f"ALIYUN_ACCESS_KEY_PAIR_{env_suffix(profile)}"


def join_pair(key_id: str, secret: str) -> str:
    """The value of a pair variable. AccessKey ids and secrets are alphanumeric, so ``:`` splits
    them unambiguously (and GitLab accepts it in a masked variable)."""
    return f"{key_id}:{secret}"


def split_pair(value: str | None) -> tuple[str, str] | None:
    """``<id>:<secret>`` -> ``(id, secret)``; None for anything else."""
    key_id, sep, secret = (value or "").strip().partition(":")
    return (key_id, secret) if sep and key_id and secret else None
