"""The deterministic agent package: what it is built for, what its content hash is, how the zip
is written so that the same inputs give the same bytes, and when a cached artifact is reused.

Which files go in is :mod:`agentrun_tasks.core.package_files`. Nothing here runs pip or talks to
the network: :mod:`agentrun_tasks.adapters.pip_target` installs the dependencies and
:mod:`agentrun_tasks.flows.build` puts the pieces together.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError
from .package_files import SourceFile

FORMAT_VERSION = 1  # bump when anything below changes the bytes of an artifact
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
DEFLATE_LEVEL = 6
READ_CHUNK = 1 << 20

REQUIREMENTS = "requirements.txt"

# Binary wheels for the Linux x86_64 runtime. pip widens a manylinux tag to every older glibc,
# so manylinux_2_28 also admits 2_17 (= manylinux2014) wheels; 2_28 assumes the runtime's base
# image has glibc >= 2.28 (Debian 10, as Function Compute's Python runtimes).
PLATFORM_TAGS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
PYTHON_LANGUAGES = {"python3.10": "3.10", "python3.12": "3.12"}
OTHER_LANGUAGES = ("nodejs18", "nodejs20", "java8", "java11", "java17")
DEFAULT_LANGUAGE = "python3.12"

# Function Compute 3.0's code package limits (AgentRun runs code packages on it), from "Limits"
# https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/product-overview/limits-of-usage:
# a ZIP uploaded by the developer tools or named in OSS holds at most 500 MB (100 MB when sent
# inline through the SDK/OpenAPI, base64-encoded). The page gives no unpacked size of its own: the
# unpacked code must fit the instance's disk, 10 GB at most ("temporary disk space", and the
# component's largest diskSize, 10240 MB).
MAX_ZIPPED = 500 * 1024**2
MAX_UNZIPPED = 10 * 1024**3
BIGGEST_SHOWN = 3

CRC64_POLY = 0x142F0E1EBA9EA3693  # CRC-64/ECMA-182 reflected, as OSS and the AgentRun checksum use


@dataclass(frozen=True)
class Target:
    """What the package is built for; part of the inputs hash."""

    language: str
    python_version: str | None  # "3.12"; None = no dependency step (Node.js, Java)
    platforms: tuple[str, ...] = PLATFORM_TAGS

    @property
    def installs_requirements(self) -> bool:
        return self.python_version is not None


def target_for(language: str | None) -> Target:
    """The build target of ``agent.code.language`` (``python3.12`` when unset)."""
    language = language or DEFAULT_LANGUAGE
    if language in PYTHON_LANGUAGES:
        return Target(language, PYTHON_LANGUAGES[language])
    if language in OTHER_LANGUAGES:
        return Target(language, None, ())
    known = ", ".join([*PYTHON_LANGUAGES, *OTHER_LANGUAGES])
    raise ConfigError(
        f"agent.code.language '{language}' is not an AgentRun code language. Use one of: {known}."
    )


@dataclass(frozen=True)
class Artifact:
    """A built (or reused) package."""

    path: Path
    size: int
    sha256: str
    crc64: str  # decimal string, as CodeConfiguration.checksum expects
    inputs_hash: str
    reused: bool
    file_count: int
    seconds: float

    def as_dict(self) -> dict:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


# -- hashing -----------------------------------------------------------------------------------
def requirement_lines(text: str) -> list[str]:
    """The effective lines of a requirements file: no blanks, no comments."""
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def inputs_hash(files: Iterable[SourceFile], requirements: str, target: Target) -> str:
    """The content hash that decides whether an artifact can be reused.

    It covers names, modes and bytes of the files, the effective requirement lines, the target
    (language, Python version, platform tags) and :data:`FORMAT_VERSION`; never mtimes, owners or
    absolute paths, so a touched file or a fresh clone elsewhere keeps the hash.
    """
    h = hashlib.sha256()
    header = {"format": FORMAT_VERSION, "target": asdict(target), "requirements": requirement_lines(requirements)}
    h.update(json.dumps(header, sort_keys=True).encode())
    for f in files:
        h.update(f"\0{f.arcname}\0{f.mode:o}\0".encode())
        with open(f.path, "rb") as fh:
            data = fh.read()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


@lru_cache(maxsize=1)
def _crc64_fun() -> Callable[[bytes, int], int]:
    import crcmod

    return crcmod.mkCrcFun(CRC64_POLY, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


def crc64(data: bytes, crc: int = 0) -> int:
    """CRC-64/ECMA-182 as OSS computes it (the CRC-64/XZ parameters); pass ``crc`` to continue."""
    return _crc64_fun()(data, crc)


def file_digests(path: Path) -> tuple[str, str, int]:
    """``(sha256 hex, crc64 decimal string, size)`` of a file, in one read."""
    sha, crc, size = hashlib.sha256(), 0, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(READ_CHUNK):
            sha.update(chunk)
            crc = crc64(chunk, crc)
            size += len(chunk)
    return sha.hexdigest(), str(crc), size


# -- limits ------------------------------------------------------------------------------------
def check_unzipped(files: Iterable[SourceFile]) -> None:
    """Refuse, before anything is read or zipped, files that unpack to more than :data:`MAX_UNZIPPED`."""
    files = list(files)
    total = sum(f.size for f in files)
    if total > MAX_UNZIPPED:
        raise ConfigError(f"the code package would unpack to {_size(total)}, over the {_size(MAX_UNZIPPED)} an "
                          f"AgentRun instance holds; {_biggest(files)} Nothing was built.")


def check_zipped(size: int, files: Iterable[SourceFile]) -> None:
    """Refuse a zip over :data:`MAX_ZIPPED`, the largest code package Function Compute accepts."""
    if size > MAX_ZIPPED:
        raise ConfigError(f"the code package is {_size(size)} zipped, over the {_size(MAX_ZIPPED)} Function Compute "
                          f"accepts for a code package; {_biggest(list(files))} Nothing was uploaded.")


def _biggest(files: list[SourceFile]) -> str:
    top = sorted(files, key=lambda f: f.size, reverse=True)[:BIGGEST_SHOWN]
    names = ", ".join(f"{f.arcname!r} ({_size(f.size)})" for f in top)
    return (f"the biggest files are {names}. List what the agent does not need in .agentrunignore, or keep large "
            "data in OSS or NAS (ossMountConfig, nasConfig) instead of the package.")


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"


# -- writing -----------------------------------------------------------------------------------
def write_zip(files: Iterable[SourceFile], dest: Path) -> int:
    """Write ``files`` to ``dest`` deterministically and return how many were written.

    Entries are sorted by name, with no directory entries, the fixed time 1980-01-01 00:00:00,
    mode 0o644 or 0o755 and DEFLATE at a fixed level. A later file with the same name replaces an
    earlier one (the agent's own code is passed after its dependencies, so it wins).
    """
    by_name = {f.arcname: f for f in files}
    with zipfile.ZipFile(dest, "w", allowZip64=True) as zf:
        for name in sorted(by_name):
            src = by_name[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = (stat.S_IFREG | src.mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            # ZipInfo has no public setter before 3.13 (compress_level), and zf.open(info) takes the
            # level from the ZipInfo, not the ZipFile: the private attribute is the only way on 3.10.
            info._compresslevel = DEFLATE_LEVEL  # type: ignore[attr-defined]
            info.file_size = os.stat(src.path).st_size  # decides zip64 up front, before streaming
            with open(src.path, "rb") as fh, zf.open(info, "w") as out:
                while chunk := fh.read(READ_CHUNK):
                    out.write(chunk)
    return len(by_name)


# -- cache -------------------------------------------------------------------------------------
def artifact_path(build_dir: Path, digest: str) -> Path:
    return build_dir / f"{digest}.zip"


def manifest_path(build_dir: Path, digest: str) -> Path:
    return build_dir / f"{digest}.json"


def manifest_for(artifact: Artifact, target: Target) -> dict:
    """The small JSON document kept beside an artifact."""
    data = artifact.as_dict()
    for transient in ("path", "reused", "seconds"):
        data.pop(transient)
    data.update(format=FORMAT_VERSION, target=asdict(target))
    return data


def cached_artifact(build_dir: Path, digest: str, *, force: bool = False) -> Artifact | None:
    """The reusable artifact for ``digest``, or None when it must be built.

    Reuse needs the manifest and a zip of the recorded size; a damaged or half-written pair is
    simply rebuilt. ``seconds`` is left 0 for the caller to fill.
    """
    if force:
        return None
    zip_file, manifest = artifact_path(build_dir, digest), manifest_path(build_dir, digest)
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        size = zip_file.stat().st_size
    except (OSError, ValueError):
        return None
    if data.get("format") != FORMAT_VERSION or data.get("inputs_hash") != digest or data.get("size") != size:
        return None
    return Artifact(zip_file, size, data["sha256"], data["crc64"], digest, True, data["file_count"], 0.0)


def stale_artifacts(build_dir: Path, keep: Iterable[str]) -> list[Path]:
    """Artifacts and manifests in ``build_dir`` other than those of the ``keep`` digests."""
    keep = set(keep)
    return sorted(
        p for p in build_dir.glob("*") if p.suffix in (".zip", ".json") and p.stem not in keep
    )
