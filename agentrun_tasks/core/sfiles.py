"""``${file('p')}`` and ``${path('p')}`` of an s.yaml: resolved from its folder as ``s`` resolves
them and, stricter than ``s``, confined to that folder (links resolved), away from ``.env*`` and
``.agentrun/``, unless the env file names the path in ``s_yaml.allow_paths``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .validate import Loc, Substituted


def file_value(kind: str, name: str, template: str, loc: Loc, base: Path, allowed: tuple[Path, ...]) -> Any:
    """``${file('name')}`` (the file's text, masked like an env value) or ``${path('name')}``."""
    path = base / name
    _check_place(path, template, loc, base, allowed)
    if kind == "path":
        if not name or not path.exists():
            raise loc.error(f"{template}: {name or 'an empty path'} does not exist (s: path value not found).")
        return os.path.normpath(path)  # node's path.join: normalised, links not followed
    try:
        value = Substituted(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        raise loc.error(f"{template}: {name} cannot be read (s: file('{name}') not found).",
                        "The path is relative to the s.yaml's folder.") from None
    value.template, value.from_env = template, True  # a file may hold a key: mask it like an env value
    return value


def _check_place(path: Path, template: str, loc: Loc, base: Path, allowed: tuple[Path, ...]) -> None:
    """``file()``/``path()`` reach only the s.yaml's own folder, links resolved, and there never a
    dotenv file (``.env*``) nor ``.agentrun/`` (keys, state): otherwise an s.yaml copies
    ``../.env.local`` or ``/proc/self/environ`` into the runtime's settings. The env file may name
    more in ``s_yaml.allow_paths``: a file named there is read whatever its name, a folder named
    there is one more place to read from, under the same rule."""
    target, folder = Path(os.path.realpath(path)), Path(os.path.realpath(base))
    if target in allowed:
        return
    places = [p for p in (folder, *allowed) if p == target or p in target.parents]
    fix = "If it is meant to be read, name it in s_yaml.allow_paths of the env file (from the project root)."
    if not places:
        raise loc.error(f"{template} reaches {target}, outside the s.yaml's folder {folder}: an s.yaml reads only "
                        "files beside it, or it could copy any readable file (a .env, /proc/self/environ) into the "
                        "agent's settings.", "Move the file into that folder. " + fix)
    private = [next((part for part in target.relative_to(place).parts
                     if part == ".agentrun" or part.startswith(".env")), None) for place in places]
    if None in private:
        return
    what = "the .agentrun folder (keys and state)" if private[0] == ".agentrun" else f"the dotenv file {private[0]}"
    raise loc.error(f"{template} reaches {target}, inside {what}, which may hold secrets: an s.yaml does not read "
                    "it.", "Read the value with ${env('X')} instead. " + fix)
