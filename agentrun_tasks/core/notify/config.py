"""The ``notify:`` block of an env file, validated in full: which channels there are and which
events each wants.

An env file names channels; webhook URLs and signing secrets are secrets, so they are written
only as ``${env('X')}`` (no default), or as ``{keyring: entry}``: an entry the session reads from
the OS keyring (store it with ``keyring set agentrun-tasks <entry>``)::

    notify:
      timeout: 10s                 # [10s] the most notifications may add to a task, all channels together
      channels:
        - type: dingtalk           # slack | dingtalk | feishu | wecom | webhook
          name: ops                # [the type; type-2, ... for a second one] shown in warnings
          webhook: "${env('DINGTALK_WEBHOOK')}"
          secret: "${env('DINGTALK_SECRET')}"     # signed mode (dingtalk, feishu; webhook: X-Signature)
          keyword: deploy          # keyword mode (dingtalk, feishu): every message contains it
          on: [failure, rollback]  # [success, failure] event names or groups (see events.GROUPS)
          mention: {mobiles: ["13800000000"], user_ids: [u1], all: false}   # on failures only
          required: false          # true: a failed delivery makes the task exit 5
          style: card              # feishu only: card (interactive) | post

The events themselves are :mod:`.events`; rendering lives in :mod:`agentrun_tasks.core.notify_render`,
delivery in ``adapters/channels``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import secrets
from ..model import NotifyConfig
from ..secrets import Secret
from ..validate import Loc, Substituted, Unset, Validator, boolean, choice, mapping, parsed, seq, string
from .events import GROUPS, KINDS, TEST, expand

TYPES = ("slack", "dingtalk", "feishu", "wecom", "webhook")

DEFAULT_ON = ("success", "failure")
DEFAULT_TIMEOUT = 10.0

# Settings that only some platforms have (the rest apply to every type).
_ONLY = {"keyword": ("dingtalk", "feishu"), "style": ("feishu",)}
_MENTIONS = {"slack": ("user_ids", "all"), "dingtalk": ("mobiles", "user_ids", "all"),
             "feishu": ("user_ids", "all"), "wecom": ("user_ids",),  # its markdown takes <@userid> only
             "webhook": ("mobiles", "user_ids", "all")}
_WHOLE_ENV = re.compile(r"""\$\{\s*env\(\s*(['"])[^'"]+\1\s*\)\s*\}""")


@dataclass(frozen=True)
class KeyringRef:
    """``webhook: {keyring: entry}``: the session reads the value from the OS keyring."""

    entry: str


@dataclass(frozen=True)
class Mention:
    mobiles: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    all: bool = False

    def __bool__(self) -> bool:
        return bool(self.mobiles or self.user_ids or self.all)


@dataclass(frozen=True)
class ChannelConfig:
    """One validated channel. ``webhook``/``secret`` are Secrets (or keyring references, or an
    unset variable: an error when the channel opens to send)."""

    type: str
    name: str
    webhook: Secret | KeyringRef | Unset
    secret: Secret | KeyringRef | Unset | None = None
    on: tuple[str, ...] = DEFAULT_ON
    required: bool = False
    mention: Mention = field(default_factory=Mention)
    keyword: str | None = None
    style: str = "card"

    def wants(self, kind: str) -> bool:
        return kind == TEST or kind in expand(self.on)


def secret_setting(what: str) -> Validator:
    """A validator of a secret value: ``${env('NAME')}`` (no default) or ``{keyring: entry}``."""
    def check(value: Any, loc: Loc) -> Secret | KeyringRef | Unset:
        if isinstance(value, Mapping):
            ref = mapping({"keyring": string(pattern=r"[A-Za-z0-9_./-]+",
                                             fix="A keyring entry name holds letters, digits and . _ / -.")},
                          required=("keyring",))(value, loc)
            return KeyringRef(ref["keyring"])
        if isinstance(value, Unset):  # its variable is unset: an error only when the channel opens to send
            return value
        if not (isinstance(value, Substituted) and value.from_env and _WHOLE_ENV.fullmatch(value.template)):
            raise loc.error(f"a {what} is a secret and must not be written in the file.",
                            "Write it as \"${env('NAME')}\" (no default) and set NAME in the environment "
                            "or CI secrets, or as {keyring: entry} to read it from the OS keyring.")
        return Secret(str(value), source=value.template)

    return check


def webhook_url(value: str, where: str) -> Secret:
    """A webhook URL as a Secret: any http(s) URL (self-hosted receivers too). Its path and
    query, where the token usually sits, are registered as secrets of their own, so they stay
    masked even if a library prints the URL re-encoded or with extra parameters."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where} is not an http(s) URL")
    tail = value[value.index(parts.netloc) + len(parts.netloc):]
    secrets.register(tail if len(tail) >= 8 else value)
    for piece in re.split(r"[/?&=]", tail):
        if len(piece) >= 16:  # tokens; short segments such as /robot/send are not secret
            secrets.register(piece)
    return Secret(value, source=where)


def _channel_rules(channel: dict, node: Any, loc: Loc) -> None:
    kind = channel["type"]
    for key, types in _ONLY.items():
        if key in channel and kind not in types:
            raise loc.child(node, key).error(f"is not a setting of a {kind} channel (only {', '.join(types)}).")
    for key in channel.get("mention", {}):
        if key not in _MENTIONS[kind]:
            raise loc.child(node, "mention").error(f"a {kind} channel cannot mention by {key}.",
                                                   f"It can use: {', '.join(_MENTIONS[kind])}.")
    if isinstance(channel["webhook"], Secret):
        try:
            channel["webhook"] = webhook_url(channel["webhook"].reveal(), channel["webhook"].source)
        except ValueError:
            raise loc.child(node, "webhook").error(
                f"the value of {channel['webhook'].source} is not an http(s) URL.",
                "Set it to the robot's full webhook address, https://...") from None


_EVENT_NAMES = (*GROUPS, *KINDS)

CHANNEL = mapping({
    "type": choice(TYPES),
    "name": string(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*", fix="A name holds letters, digits and . _ -."),
    "webhook": secret_setting("webhook URL"),
    "secret": secret_setting("signing secret"),
    "on": seq(choice(_EVENT_NAMES), min_len=1),
    "required": boolean(),
    "mention": mapping({"mobiles": seq(string(pattern=r"\+?[0-9-]{5,20}", fix="Write a phone number.")),
                        "user_ids": seq(string()), "all": boolean()}),
    "keyword": string(pattern=r"\S.*", fix="A keyword is a non-empty word."),
    "style": choice(("card", "post")),
}, required=("type", "webhook"), after=_channel_rules)


def _unique_names(block: dict, node: Any, loc: Loc) -> None:
    seen: dict[str, int] = {}
    for channel in block.get("channels", ()):
        count = seen[channel["type"]] = seen.get(channel["type"], 0) + 1
        channel.setdefault("name", channel["type"] if count == 1 else f"{channel['type']}-{count}")
    names = [c["name"] for c in block.get("channels", ())]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise loc.child(node, "channels").error(f"two channels are named '{duplicate}'.", "Give each a distinct name:.")


def notify_block(parse_duration: Callable[[Any], Any]) -> Validator:
    """The validator of ``notify:`` (``parse_duration`` comes from core.env_schema: core.units owns durations)."""
    return mapping({"timeout": parsed(parse_duration, minimum=0.1), "channels": seq(CHANNEL)}, after=_unique_names)


def build(data: Mapping[str, Any]) -> NotifyConfig:
    """The env's ``NotifyConfig`` from the validated ``notify:`` block."""
    channels = []
    for raw in data.get("channels", ()):
        mention = raw.get("mention", {})
        channels.append(ChannelConfig(
            type=raw["type"], name=raw["name"], webhook=raw["webhook"], secret=raw.get("secret"),
            on=tuple(raw.get("on", DEFAULT_ON)), required=raw.get("required", False),
            mention=Mention(tuple(mention.get("mobiles", ())), tuple(mention.get("user_ids", ())),
                            mention.get("all", False)),
            keyword=raw.get("keyword"), style=raw.get("style", "card")))
    return NotifyConfig(channels=tuple(channels), timeout=data.get("timeout", DEFAULT_TIMEOUT))
