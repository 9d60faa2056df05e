"""Open an environment for a task: choose it (flag, invoke config, CI branch), load it, enforce
its protection and confirmation, and hand back the :class:`~.workspace.Session`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError
from ..core.report import Reporter
from .context import open_context, settings
from .workspace import Session

if TYPE_CHECKING:
    from invoke import Context as InvokeContext

    from ..core.model import EnvConfig
    from ..core.ports import Driver
    from ..core.resources import Runtime


def _s_access(env: EnvConfig, environ: Mapping[str, str], root: Path) -> dict:
    """``${config('AccountID')}`` and the other access fields of an imported s.yaml: the
    environment's credentials, resolved only when the s.yaml uses one (exit 3 if there are none)."""
    from ..adapters.keyring_store import KeyStore
    from ..core import credentials
    from ..core.svars import access_fields

    return access_fields(credentials.resolve(env, environ=environ, root=root, keystore=KeyStore()))


def open_session(c: InvokeContext | None, env: str | None, *, json: bool = False, mutating: bool = False,
                 yes: bool = False, destructive: Callable[[EnvConfig], str] | None = None) -> Session:
    """Detect CI, choose and load the environment, enforce protection for mutating tasks.

    ``destructive(env)`` is a question that must be confirmed (``--yes`` in CI) whatever the env's
    ``protect.confirm`` says: deleting a runtime always asks.
    """
    from ..core import cienv, config, protect

    ctx = open_context(c, json=json)
    environ, root, ci, reporter = ctx.environ, ctx.root, ctx.ci, ctx.reporter
    explicit = env if env is not None else settings(c)["env"]
    name, _reason = cienv.choose_env(ci, explicit=explicit, branch_map=ctx.branch_map)
    cfg = config.load_env(name, root=root, environ=environ, context=ci.template_context(),
                          access=lambda partial: _s_access(partial, environ, root))
    if mutating:
        protect.check(cfg, ci)
        if ci.sha:  # what it publishes is described by its commit: say when the checkout is not it
            from ..adapters.git_state import is_dirty

            ci = replace(ci, dirty=is_dirty(root))
        if destructive and not yes:
            _confirm(reporter, destructive(cfg))
        elif protect.needs_confirmation(cfg, ci, yes=yes):
            _confirm(reporter, f"Change environment '{cfg.name}' (agent {cfg.agent_name}, region {cfg.region})?")
    return Session(root=root, env=cfg, ci=ci, reporter=reporter, environ=environ)


def open_control(c: InvokeContext | None, env: str | None, **session_options: Any) -> tuple[Session, Driver]:
    """``open_session`` and the environment's driver (starting the emulator if it is the target)."""
    session = open_session(c, env, **session_options)
    return session, session.driver()


def open_runtime(c: InvokeContext | None, env: str | None, **session_options: Any) -> tuple[Session, Driver, Runtime]:
    """``open_control`` and the environment's runtime, which must exist."""
    session, driver = open_control(c, env, **session_options)
    return session, driver, driver.require_runtime(session.env.agent_name)


def _confirm(reporter: Reporter, question: str) -> None:
    if not sys.stdin.isatty():
        raise ConfigError(f"{question} Refusing to ask without a terminal: pass --yes to confirm.")
    reporter.line(f"{question} [y/N] ")
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise ConfigError("not confirmed; nothing was changed.")
