"""Read a checkout's HEAD and refs straight from its ``.git`` files (core never runs git).

:func:`read_head` says which branch, commit and (for a detached HEAD) tag the checkout is at;
:func:`ref_exists` checks one full ref name; :func:`strip_ref` shortens ``refs/heads/x`` to
``x``. Handled: a ``.git`` directory found from any subdirectory, a worktree's ``.git`` file
(``gitdir:`` plus ``commondir``), loose refs, ``packed-refs`` and its peeled ``^`` lines, and
loose annotated tag objects. Packed objects are not read.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

_REF_PREFIXES = ("refs/heads/", "refs/tags/")


@dataclass(frozen=True)
class GitHead:
    """Where HEAD points. ``source`` names the file the answer came from, for messages."""

    branch: str | None = None
    tag: str | None = None
    sha: str | None = None
    source: str | None = None


def strip_ref(value: str | None) -> str | None:
    """``refs/heads/x`` or ``refs/tags/x`` -> ``x``; any other value unchanged, empty -> ``None``."""
    if not value:
        return None
    for prefix in _REF_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


def ref_exists(cwd: Path, ref: str) -> bool:
    """Whether the checkout holding ``cwd`` has the full ref ``ref`` (e.g. ``refs/tags/v1``)."""
    dirs = _git_dirs(cwd)
    return bool(dirs and _resolve(dirs, ref))


def read_head(cwd: Path) -> GitHead:
    """Branch and sha, or (for a detached HEAD) a tag pointing at it; empty outside a checkout."""
    dirs = _git_dirs(cwd)
    if dirs is None:
        return GitHead()
    try:
        head = (dirs[0] / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return GitHead()
    if head.startswith("ref:"):
        ref = head[4:].strip()
        return GitHead(branch=strip_ref(ref), sha=_resolve(dirs, ref), source=".git/HEAD")
    common = dirs[1]
    tags = [(p.relative_to(common).as_posix(), p.read_text(encoding="utf-8").strip(), None)
            for p in sorted((common / "refs" / "tags").rglob("*")) if p.is_file()]
    for ref, sha, peeled in tags + _packed_refs(common):
        if ref.startswith("refs/tags/") and head in (sha, peeled, _peel(common, sha)):
            return GitHead(tag=strip_ref(ref), sha=head, source=f".git/{ref}")
    return GitHead(sha=head, source=".git/HEAD (detached)")


def _git_dirs(cwd: Path) -> tuple[Path, Path] | None:
    """(git dir, common dir) of the checkout holding ``cwd``; a worktree's ``.git`` is a file."""
    for directory in (cwd, *cwd.parents):
        dotgit = directory / ".git"
        if dotgit.is_dir():
            gitdir = dotgit
        elif dotgit.is_file():
            text = dotgit.read_text(encoding="utf-8").strip()
            if not text.startswith("gitdir:"):
                return None
            gitdir = (directory / text[len("gitdir:"):].strip()).resolve()
        else:
            continue
        common = gitdir
        if (gitdir / "commondir").is_file():
            common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
        return gitdir, common
    return None


def _packed_refs(common: Path) -> list[tuple[str, str, str | None]]:
    """(ref, sha, peeled sha of an annotated tag) from ``packed-refs``."""
    try:
        lines = (common / "packed-refs").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    refs: list[tuple[str, str, str | None]] = []
    for line in lines:
        if line.startswith("^") and refs:
            refs[-1] = (refs[-1][0], refs[-1][1], line[1:].strip())
        elif line and not line.startswith("#"):
            sha, _, ref = line.partition(" ")
            refs.append((ref.strip(), sha, None))
    return refs


def _resolve(dirs: tuple[Path, Path], ref: str) -> str | None:
    # Per-worktree refs live in the git dir, shared ones in the common dir, then packed-refs.
    for base in dirs:
        try:
            return (base / ref).read_text(encoding="utf-8").strip()
        except OSError:
            continue
    return next((sha for name, sha, _ in _packed_refs(dirs[1]) if name == ref), None)


def _peel(common: Path, sha: str) -> str:
    """The commit a loose annotated tag object points at (packed objects are not read)."""
    try:
        raw = zlib.decompress((common / "objects" / sha[:2] / sha[2:]).read_bytes())
    except (OSError, zlib.error):
        return sha
    header, _, body = raw.partition(b"\0")
    if header.startswith(b"tag ") and body.startswith(b"object "):
        return body[7:47].decode("ascii")
    return sha
