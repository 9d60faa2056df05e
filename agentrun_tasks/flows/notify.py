"""Deliver events to every channel that wants them, off the task's critical path.

:meth:`Notifier.send` renders the event for each channel and hands it to a private event loop in
a background thread, so a deploy never waits on a chat robot while it works. Messages to one
channel keep their order. :meth:`Notifier.finish` waits at most ``timeout`` seconds for what is
still in flight, reports every failed delivery as a warning and, only if the task itself
succeeded, raises exit 5 for a failed ``required: true`` channel: the task's outcome is recorded
(and its own error wins) first.

    notifier = Notifier(channels, reporter, timeout=env.notify.timeout)
    with notifier.finishing(failed=lambda error: Event("deploy.failed", env.name, reason=str(error))):
        ...  # the task's work
        notifier.send(Event("deploy.succeeded", env.name), summary=True)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..adapters.channels import Channel, DeliveryResult
from ..core import secrets
from ..core.credentials import KEYRING_SERVICE
from ..core.errors import ConfigError, ResourceFailedError
from ..core.notify import ChannelConfig, Event, KeyringRef, webhook_url
from ..core.notify_render import render, summary_markdown
from ..core.secrets import Secret
from ..core.validate import Unset

if TYPE_CHECKING:
    import aiohttp

    from ..core.model import EnvConfig
    from ..core.report import Reporter

INTERRUPTED_WAIT = 3.0  # seconds: GitHub sends SIGKILL 7.5 s after a cancel's SIGINT


class Notifier:
    """Sends events to ``channels`` (pairs of their config and the opened channel)."""

    def __init__(self, channels: Sequence[tuple[ChannelConfig, Channel]], reporter: Reporter, *,
                 timeout: float = 10.0) -> None:
        self.channels = list(channels)
        self.reporter = reporter
        self.timeout = timeout
        self._pending: list[tuple[ChannelConfig, str, Future[DeliveryResult]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._order: dict[str, asyncio.Lock] = {}

    def __bool__(self) -> bool:
        return bool(self.channels)

    def send(self, event: Event, *, summary: bool = False) -> None:
        """Start delivering ``event`` to every channel whose ``on:`` wants it; returns at once.
        ``summary``: the event ends the task, so it also becomes the CI run's summary."""
        if summary:
            self.reporter.summary(summary_markdown(event))
        for cfg, channel in self.channels:
            if cfg.wants(event.kind):
                # Redacted like every other output: a reason may quote a library's message.
                message = json.loads(secrets.redact(json.dumps(render(event, cfg), ensure_ascii=False)))
                future = asyncio.run_coroutine_threadsafe(self._deliver(cfg, channel, message), self._start())
                self._pending.append((cfg, event.kind, future))

    def wait(self, bound: float | None = None) -> list[DeliveryResult]:
        """Wait (at most ``bound``, default ``timeout`` s) for the deliveries in flight; warn about
        each failure."""
        bound = self.timeout if bound is None else min(bound, self.timeout)
        deadline = time.monotonic() + bound
        results = []
        for cfg, kind, future in self._pending:
            try:
                result = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:  # still running at the deadline (or cancelled): it did not arrive in time
                future.cancel()
                result = DeliveryResult(cfg.name, False, 0, bound, f"not delivered within {bound:g}s")
            results.append(result)
            if not result.ok:
                self.reporter.warn(f"notification '{kind}' to {cfg.type} channel '{cfg.name}' failed after "
                                   f"{result.attempts} attempt(s): {result.detail}")
        self._pending = []
        self._stop()
        return results

    def finish(self, error: BaseException | None = None) -> list[DeliveryResult]:
        """:meth:`wait`, then raise :class:`ResourceFailedError` (exit 5) for a failed required
        channel, unless ``error`` (the task's own failure, which wins) is given."""
        # Interrupted (Ctrl-C, or a CI cancel whose SIGKILL follows within seconds): wait briefly.
        results = self.wait(INTERRUPTED_WAIT if isinstance(error, KeyboardInterrupt) else None)
        required = {cfg.name for cfg, _channel in self.channels if cfg.required}
        failed = sorted({r.channel for r in results if not r.ok and r.channel in required})
        if failed and error is None:
            raise ResourceFailedError(
                f"the required notification channel(s) {', '.join(failed)} could not be reached "
                "(see the warnings above); the task itself succeeded and its outcome is recorded.")
        return results

    @contextmanager
    def finishing(self, failed: Callable[[BaseException], Event | None] | None = None, *,
                  summary: bool = True) -> Iterator[Notifier]:
        """``finish`` on the way out of the block. On an error, first send ``failed(error)`` (also
        as the CI summary unless ``summary`` is False: a task that writes its own), and let the
        block's own error win over a required channel's."""
        try:
            yield self
        except BaseException as exc:
            event = failed(exc) if failed is not None and isinstance(exc, (Exception, KeyboardInterrupt)) else None
            if event is not None:
                self.send(event, summary=summary)
            self.finish(exc)
            raise
        self.finish()

    # -- the delivery loop -----------------------------------------------------------------------

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="notify", daemon=True)
            self._thread.start()
        return self._loop

    async def _deliver(self, cfg: ChannelConfig, channel: Channel, message: dict) -> DeliveryResult:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._order.setdefault(cfg.name, asyncio.Lock()):
            return await channel.send(message, session=self._session, deadline=time.monotonic() + self.timeout)

    def _stop(self) -> None:
        loop, self._loop = self._loop, None
        thread = self._thread  # started together with the loop
        if loop is None or thread is None:
            return

        async def close() -> None:
            if self._session is not None:
                await self._session.close()
            self._session, self._order = None, {}
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        try:
            asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=2)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=2)
            if not thread.is_alive():
                loop.close()


def resolve_secret(value: Secret | KeyringRef | Unset, what: str, *, env: EnvConfig, where: str,
                   read_keyring: Callable[[str], str | None]) -> Secret:
    """A secret setting's value: as written (``${env(...)}``) or read from the OS keyring
    (``{keyring: entry}``); ``what`` "webhook" must be an http(s) URL. ``where`` names the block
    (``notify.channels``, ``release.webhooks``) in the error. An unset ``${env()}`` fails here, where
    the value is used, not when the env file loads."""
    if isinstance(value, Unset):
        raise value.error()
    if not isinstance(value, KeyringRef):
        return value
    text = read_keyring(value.entry)
    if not text:
        raise ConfigError(f"{env.path.name}: {where} {what} is {{keyring: {value.entry}}}, but the OS "
                          f"keyring has no entry {KEYRING_SERVICE}/{value.entry}. Store it with `keyring set "
                          f"{KEYRING_SERVICE} {value.entry}`, or write \"${{env('NAME')}}\" instead.")
    if what == "webhook":
        try:
            return webhook_url(text, f"keyring {value.entry}")
        except ValueError:
            raise ConfigError(f"{env.path.name}: the keyring entry {KEYRING_SERVICE}/{value.entry} is not an "
                              "http(s) URL; store the full webhook address there.") from None
    return Secret(text, source=f"keyring {value.entry}")


def open_notifier(env: EnvConfig, reporter: Reporter,
                  read_keyring: Callable[[str], str | None] = lambda entry: None) -> Notifier:
    """The environment's channels, opened. ``read_keyring(entry)`` gives the text of a value the
    env file keeps as ``{keyring: entry}`` (the session reads the OS keyring)."""
    from ..adapters.channels import open_channel

    def resolve(value: Secret | KeyringRef | Unset, what: str) -> Secret:
        return resolve_secret(value, what, env=env, where="notify.channels", read_keyring=read_keyring)

    channels = []
    for cfg in env.notify.channels:
        webhook = resolve(cfg.webhook, "webhook")
        secret = resolve(cfg.secret, "secret") if cfg.secret is not None else None
        channels.append((cfg, open_channel(cfg.type, cfg.name, webhook, secret)))
    return Notifier(channels, reporter, timeout=env.notify.timeout)
