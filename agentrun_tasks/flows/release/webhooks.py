"""Release webhooks (``release.webhooks``) at their moments of a release: confirm hooks are asked
until they answer 2xx or their time runs out; pre-/post-rollout hooks are told once, and a
failure to tell them is a warning."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...adapters.release_webhooks import call as http_call
from ...core import webhooks as core
from ...core.errors import WaitTimeoutError
from ...core.secrets import Secret
from ..notify import resolve_secret

if TYPE_CHECKING:
    from ...core.model import EnvConfig
    from ...core.notify import KeyringRef
    from ...core.report import Reporter
    from ...core.validate import Unset


class Hooks:
    """The environment's webhooks, their secrets resolved (a keyring entry is read once, here)."""

    def __init__(self, hooks: tuple[core.Webhook, ...], *, env: EnvConfig, reporter: Reporter,
                 read_keyring: Callable[[str], str | None] = lambda entry: None,
                 call: Callable[..., tuple[int | None, str]] = http_call,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        def resolve(value: Secret | KeyringRef | Unset, what: str) -> Secret:
            return resolve_secret(value, what, env=env, where="release.webhooks", read_keyring=read_keyring)

        self.hooks = [(h, resolve(h.url, "webhook"), resolve(h.secret, "secret") if h.secret else None)
                      for h in hooks]
        self.env, self.reporter = env, reporter
        self.call, self.sleep, self.clock = call, sleep, clock

    def wants(self, kind: str) -> bool:
        return any(h.type == kind for h, _url, _secret in self.hooks)

    def confirm(self, kind: str, **facts: Any) -> None:
        """Ask every ``kind`` hook in turn until it answers 2xx; raise WaitTimeoutError (exit 6)
        naming the first that does not within its timeout."""
        for hook, url, secret in (entry for entry in self.hooks if entry[0].type == kind):
            body = core.payload(kind, self.env, **facts)
            deadline = self.clock() + hook.timeout
            asked = 0
            with self.reporter.progress(f"waiting for {kind} webhook '{hook.name}'") as update:
                while True:
                    asked += 1
                    status, detail = self.call(url, body, secret=secret, timeout=max(1.0, min(
                        core.NOTIFY_TIMEOUT, deadline - self.clock())))
                    if core.answered(status):
                        break
                    update(core.describe(status, detail), f"asked {asked} time(s)")
                    if self.clock() + hook.interval > deadline:
                        raise WaitTimeoutError(
                            f"the {kind} webhook '{hook.name}' did not answer 2xx within {hook.timeout:g}s "
                            f"(asked {asked} time(s); last: {core.describe(status, detail)}).")
                    self.sleep(hook.interval)
            self.reporter.line(f"{kind} webhook '{hook.name}' confirmed")

    def announce(self, kind: str, **facts: Any) -> None:
        """Tell every ``kind`` hook once; one that fails is a warning."""
        for hook, url, secret in (entry for entry in self.hooks if entry[0].type == kind):
            status, detail = self.call(url, core.payload(kind, self.env, **facts), secret=secret,
                                       timeout=hook.timeout)
            if not core.answered(status):
                self.reporter.warn(f"{kind} webhook '{hook.name}' failed: {core.describe(status, detail)}; "
                                   "the release goes on.")
