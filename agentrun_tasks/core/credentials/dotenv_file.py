"""Writing ``KEY=value`` lines into a ``.env`` file (the emulator's key, a rotated key), so the
secret is never on disk readable by others."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..fileio import write_atomic
from ..secrets import Secret


def write_dotenv(path: Path, updates: Mapping[str, str | Secret]) -> None:
    """Set ``KEY=value`` lines in a ``.env`` file, keeping its other lines; the file ends up 0600.

    Written with :func:`~agentrun_tasks.core.fileio.write_atomic`, so the secret is never on
    disk with group/other read bits, even for a moment.
    """
    path = Path(path)
    pending = {k: (v.reveal() if isinstance(v, Secret) else str(v)) for k, v in updates.items()}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        out.append(_dotenv_line(key, pending.pop(key)) if "=" in line and key in pending else line)
    out += [_dotenv_line(k, v) for k, v in pending.items()]
    write_atomic(path, ("\n".join(out) + "\n").encode("utf-8"))


def _dotenv_line(key: str, value: str) -> str:
    # Single quotes: python-dotenv takes the content literally (no escapes, no interpolation).
    if "'" in value or "\n" in value:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{key}="{escaped}"'
    return f"{key}='{value}'"
