"""What every task shares: turning library errors into exit codes, and the help texts of the
common flags. Opening a session is ``agentrun_tasks.session``'s job. No business logic here."""

from __future__ import annotations

import functools
import sys
import traceback

from invoke.exceptions import Exit

from ..core import secrets
from ..core.errors import AgentrunTasksError


def cli_errors(fn):
    """Convert library errors into ``Exit(message, code)``: one paragraph, no traceback.

    Place it *under* ``@task`` so invoke still sees the task's signature. An unexpected
    exception is a bug (exit 1): its traceback is printed, redacted.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AgentrunTasksError as exc:
            raise Exit(secrets.redact(f"error: {exc}"), code=exc.exit_code) from None
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None
        except Exit:
            raise
        except Exception:  # a bug: show where, but never a secret
            sys.stderr.write(secrets.redact(traceback.format_exc()))
            raise Exit("error: unexpected failure (a bug in agentrun-tasks); details above", code=1) from None

    return wrapper


ENV_HELP = "environment name (envs/<name>.yaml); default: 'local' on a laptop, the branch's environment in CI"
JSON_HELP = "print one JSON document instead of text"
YES_HELP = "do not ask for confirmation"
