"""The environment a child process starts with: an allow-list, never a copy of ours.

A CI job's environment holds its AccessKeys, ``GITHUB_TOKEN`` and other tokens; a child that
inherited it (the emulator daemon outlives the step) could leak them into logs or packages.
Each caller names what its child needs on top of :data:`BASE`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BASE = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP",
    "SYSTEMROOT",  # Windows cannot start Python without it
    # How this Python finds its packages and writes its files.
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONUTF8", "PYTHONIOENCODING",
)


def allowed(environ: Mapping[str, str], *, names: Iterable[str] = (), prefixes: Iterable[str] = ()) -> dict[str, str]:
    """The variables of ``environ`` named in :data:`BASE` or ``names``, or starting with a prefix."""
    wanted = set(BASE) | set(names)
    prefixes = tuple(prefixes)
    return {k: v for k, v in environ.items() if k in wanted or (prefixes and k.startswith(prefixes))}
