"""Release webhooks (``release.webhooks``), like Flagger's: gates a person or a system opens over
HTTP, and notifications that carry the analysis. The schema, the typed hooks and the payload;
calling them is ``flows/release/webhooks.py``.

::

    release:
      webhooks:
        - type: confirm-rollout         # asked until it answers 2xx before the candidate gets traffic
          url: "${env('APPROVALS_URL')}"   # a secret, like a notify webhook: ${env(...)} or {keyring: entry}
          secret: "${env('HOOK_SECRET')}"  # signs the body: X-Signature: sha256=<HMAC-SHA256 hex>
          timeout: 30m                  # [10m] confirm-*: how long to keep asking; else one request [10s]
          interval: 30s                 # [10s] confirm-*: between two asks
        - type: confirm-promotion       # asked before the candidate gets 100%
        - type: pre-rollout             # told once the pre-rollout checks ran (their rows), before traffic moves
        - type: post-rollout            # told how the release ended, with every step's analysis
          name: audit                   # [the type] shown in warnings and errors

A confirm hook that has not answered 2xx within its timeout stops the release with exit 6: before
the rollout nothing has moved; before promotion 100% goes back to the stable version first. A
pre-/post-rollout hook that fails is a warning, never a failed release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .notify import KeyringRef, secret_setting, webhook_url
from .secrets import Secret
from .validate import Loc, Validator, choice, mapping, seq, string

if TYPE_CHECKING:
    from .model import EnvConfig

CONFIRM_ROLLOUT, CONFIRM_PROMOTION = "confirm-rollout", "confirm-promotion"
PRE_ROLLOUT, POST_ROLLOUT = "pre-rollout", "post-rollout"
CONFIRMS = (CONFIRM_ROLLOUT, CONFIRM_PROMOTION)
TYPES = (*CONFIRMS, PRE_ROLLOUT, POST_ROLLOUT)
SCHEMA = "agentrun-tasks.release-webhook/1"
CONFIRM_TIMEOUT, NOTIFY_TIMEOUT, CONFIRM_INTERVAL = 600.0, 10.0, 10.0


@dataclass(frozen=True)
class Webhook:
    name: str
    type: str
    url: Secret | KeyringRef
    secret: Secret | KeyringRef | None = None
    timeout: float = NOTIFY_TIMEOUT
    interval: float = CONFIRM_INTERVAL

    @property
    def confirms(self) -> bool:
        return self.type in CONFIRMS


def schema(duration: Validator) -> Validator:
    """The validator of ``release.webhooks``; ``duration`` checks ``timeout`` and ``interval``."""
    hook = mapping({"type": choice(TYPES), "name": string(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
                                                          fix="A name holds letters, digits and . _ -."),
                    "url": secret_setting("webhook URL"), "secret": secret_setting("signing secret"),
                    "timeout": duration, "interval": duration}, required=("type", "url"), after=_rules)

    def check(value: Any, loc: Loc) -> list:
        hooks = seq(hook)(value, loc)
        names = [h.setdefault("name", h["type"]) for h in hooks]
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None:
            raise loc.error(f"two webhooks are named {twice!r}.", "Give each a distinct name:.")
        return hooks

    return check


def _rules(hook: dict, node: Any, loc: Loc) -> None:
    if "interval" in hook and hook["type"] not in CONFIRMS:
        raise loc.child(node, "interval").error(f"only a confirm hook is asked repeatedly; a {hook['type']} hook "
                                                "is called once.")
    if isinstance(hook["url"], Secret):
        try:
            hook["url"] = webhook_url(hook["url"].reveal(), hook["url"].source)
        except ValueError:
            raise loc.child(node, "url").error(f"the value of {hook['url'].source} is not an http(s) URL.",
                                               "Set it to the receiver's full address, https://...") from None


def build(data: Any) -> tuple[Webhook, ...]:
    """Typed hooks from the validated ``release.webhooks`` list."""
    return tuple(Webhook(h["name"], h["type"], h["url"], h.get("secret"),
                         h.get("timeout", CONFIRM_TIMEOUT if h["type"] in CONFIRMS else NOTIFY_TIMEOUT),
                         h.get("interval", CONFIRM_INTERVAL)) for h in data or ())


def payload(kind: str, env: EnvConfig, *, candidate: str, stable: str | None, weight: float | None = None,
            result: str | None = None, reason: str = "", steps: Any = ()) -> dict:
    """What every hook receives: what is being released where, and (pre-/post-rollout) what the
    checks and steps found (the release report's ``steps``)."""
    return {"schema": SCHEMA, "type": kind, "env": env.name, "agent": env.agent_name,
            "endpoint": env.release.endpoint, "candidate": candidate, "stable": stable, "weight": weight,
            "result": result, "reason": reason, "steps": list(steps)}


def answered(status: int | None) -> bool:
    """A hook said yes: any 2xx."""
    return status is not None and 200 <= status < 300


def describe(status: int | None, detail: str) -> str:
    return f"HTTP {status}" + (f" {detail}" if detail else "") if status is not None else f"no answer ({detail})"

