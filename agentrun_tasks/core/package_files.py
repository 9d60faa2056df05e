"""Which files of the code folder go into the agent package: gitignore-like ignore rules (the
defaults plus ``.agentrunignore``), the walk that lists what is left sorted by zip name, each
file's zip mode, and the refusal of symbolic links that leave the folder.

:mod:`agentrun_tasks.core.build` hashes and zips what this selects.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

# Left out before .agentrunignore is read (only a deliberate "!" line there re-includes one):
# caches, VCS and virtualenv state, local secrets (.env*), and our own build output (when
# agent.code.src is the project root).
DEFAULT_IGNORES = ("__pycache__/", "*.pyc", ".git", ".venv", ".env*", ".DS_Store", ".agentrun/", ".agentrunignore")
IGNORE_FILE = ".agentrunignore"


@dataclass(frozen=True)
class SourceFile:
    """One file of the package: its name in the zip, where it is now, and its zip mode."""

    arcname: str
    path: str | Path  # select_files gives str: 2,000 Path objects cost more than hashing the files
    mode: int  # 0o644 or 0o755
    size: int = 0  # bytes, as the walk saw them: checked against the platform's limits before reading


class IgnoreRules:
    """A gitignore-like pattern list: ``#`` comments, ``!`` re-includes, a trailing ``/`` matches
    directories only, a ``/`` at the start or inside anchors the pattern at the code root (else it
    matches at any depth), ``*``/``?``/``[...]`` stay within one path segment and ``**`` spans
    several. The last matching pattern wins; an ignored directory is not entered.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        # Consecutive rules of the same kind become one alternation: one regex call instead of
        # many per path, with the same last-match-wins outcome.
        groups: list[tuple[list[str], bool, bool]] = []
        for rule in filter(None, map(_compile, patterns)):
            body, negated, dir_only = rule
            if groups and groups[-1][1:] == (negated, dir_only):
                groups[-1][0].append(body)
            else:
                groups.append(([body], negated, dir_only))
        self._rules = [(re.compile("|".join(bodies)), negated, dir_only) for bodies, negated, dir_only in groups]

    @classmethod
    def for_dir(cls, code_dir: Path) -> IgnoreRules:
        """The default ignores plus the directory's ``.agentrunignore``, if any."""
        extra: list[str] = []
        ignore_file = code_dir / IGNORE_FILE
        if ignore_file.is_file():
            extra = ignore_file.read_text(encoding="utf-8").splitlines()
        return cls([*DEFAULT_IGNORES, *extra])

    def ignored(self, relpath: str, is_dir: bool) -> bool:
        verdict = False
        for regex, negated, dir_only in self._rules:
            if (is_dir or not dir_only) and regex.fullmatch(relpath):
                verdict = not negated
        return verdict


def _compile(line: str) -> tuple[str, bool, bool] | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated or line.startswith("\\"):
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    anchored = "/" in line
    line = line.lstrip("/")
    body = _glob_to_regex(line)
    try:
        re.compile(body)
    except re.error as exc:  # e.g. a reversed range [z-a]
        raise ConfigError(f"{IGNORE_FILE}: the pattern {line!r} is not valid ({exc}); fix or remove that line. "
                          "Nothing was built.") from None
    return (f"(?:{body})" if anchored else f"(?:.*/)?(?:{body})"), negated, dir_only


def _glob_to_regex(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and "]" in glob[i + 2:]:
            end = glob.index("]", i + 2)
            inner = glob[i + 1:end]
            out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def zip_mode(st_mode: int) -> int:
    """0o755 if any execute bit is set, else 0o644: the zip never carries the builder's umask."""
    return 0o755 if st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH) else 0o644


def select_files(root: Path, rules: IgnoreRules | None = None) -> list[SourceFile]:
    """Every regular file under ``root`` not ignored by ``rules``, sorted by zip name.

    A symbolic link to a file inside ``root`` is packaged as that file; links to directories
    are not followed (they could loop). A link that leaves ``root`` (``../.env.local``,
    ``/proc/self/environ``) is refused with :class:`ConfigError` naming it, unless ignored: it
    would put whatever it points at, secrets included, into the package. Special files (FIFOs,
    devices, sockets), linked or not, are never opened; a name with a control character (a
    newline) is refused.
    """
    real_root = os.path.realpath(root)
    files: list[SourceFile] = []
    # os.scandir and plain strings: this walk is most of the unchanged-inputs check.
    pending = [(os.fspath(root), "")]
    while pending:
        directory, rel_dir = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = rel_dir + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if rules is None or not rules.ignored(rel, is_dir=True):
                        pending.append((entry.path, rel + "/"))
                    continue
                if rules is not None and rules.ignored(rel, is_dir=False):
                    continue
                if entry.is_symlink():
                    _check_link(entry.path, rel, real_root)
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    raise ConfigError(
                        f"{entry.path} is a broken symbolic link. Fix or remove it, or list it in {IGNORE_FILE}."
                    ) from None
                if stat.S_ISREG(st.st_mode):
                    _check_name(rel)
                    files.append(SourceFile(rel, entry.path, zip_mode(st.st_mode), st.st_size))
    files.sort(key=lambda f: f.arcname)
    return files


def _check_name(rel: str) -> None:
    """A name with a control character (a newline, a tab, an escape) is refused: the runtime would
    unpack it, but every listing, log line and ignore pattern that meets it splits or misreads it."""
    bad = next((ch for ch in rel if ord(ch) < 0x20 or ord(ch) == 0x7F), None)
    if bad is not None:
        raise ConfigError(
            f"the code folder holds a file named {rel!r}, with the control character U+{ord(bad):04X} in its "
            f"name, which logs and listings of the package would misread. Rename it, or list it in {IGNORE_FILE} "
            "(a pattern such as *.bin matches it); nothing was built."
        )


def _check_link(path: str, rel: str, real_root: str) -> None:
    target = os.path.realpath(path)
    if os.path.commonpath([real_root, target]) != real_root:
        raise ConfigError(
            f"{rel} in the code folder is a symbolic link to {target}, outside the code folder {real_root}: "
            f"the package would carry that file, which may hold secrets. Copy the file in instead of linking "
            f"it, or list {rel} in {IGNORE_FILE}; nothing was built."
        )
