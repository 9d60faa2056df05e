"""Install ``requirements.txt`` for the cloud runtime, without Docker: pip in a subprocess with
the target's platform tags, implementation and Python version, binary wheels only.

The command is an argv list and extra settings travel in ``env=`` (a private index URL with a
token belongs in ``PIP_INDEX_URL`` there, never in argv); no shell is involved.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from ..core.build import Target
from ..core.childenv import allowed
from ..core.errors import ConfigError, ResourceFailedError

# pip's two ways of saying "no candidate fits": the second names the requirement as written.
_MISSING = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the requirement)\s+(\S+)"
)
_CONFLICT = re.compile(r"ResolutionImpossible|conflicting dependencies")
# When the index cannot be reached pip also ends with "Could not find a version": not a config error.
_UNREACHABLE = re.compile(r"NewConnectionError|Failed to establish a new connection|ConnectTimeout|ReadTimeout"
                          r"|ProxyError|SSLError|Max retries exceeded|Temporary failure in name resolution")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_VERSIONS = re.compile(r"\(from versions: ([^)]*)\)")  # what the index has for the target
# What pip reads besides PIP_*: proxies, CA bundles, ~/.netrc, caches and config folders.
_PIP_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
              "all_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC",
              "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_DATA_HOME")


def _pip_errors(stderr: str) -> str:
    """pip's own ERROR lines (else its last line), joined so the message stays one paragraph."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    unreachable = [line for line in lines if _UNREACHABLE.search(line)][:1]
    errors = unreachable + [line for line in lines if line.startswith("ERROR:")] or lines[-1:]
    return " ".join(errors) or "(no output)"


def pip_argv(requirements: Path, target_dir: Path, target: Target, *, python: str | None = None) -> list[str]:
    """The pip command that installs ``requirements`` into ``target_dir`` for ``target``."""
    if target.python_version is None:  # callers ask target.installs_requirements first
        raise ValueError(f"{target.language} has no dependency step: pip installs nothing for it")
    argv = [python or sys.executable, "-m", "pip", "install",
            "--target", str(target_dir),
            "--implementation", "cp",
            "--python-version", target.python_version,
            "--only-binary=:all:",
            "--no-compile",  # the runtime's Python writes its own bytecode; ours would be the wrong version
            "--no-input", "--disable-pip-version-check", "--no-warn-script-location"]
    for platform in target.platforms:
        argv += ["--platform", platform]
    return [*argv, "-r", str(requirements)]


def _requirement(stderr: str) -> str | None:
    """The requirement as written in pip's "no matching distribution" line (``tinydep==9.9``)."""
    match = _MISSING.search(stderr)
    return match.group(1) if match else None


def missing_package(stderr: str) -> str | None:
    """The distribution name pip found no fitting wheel for, or None."""
    match = _MISSING.search(stderr)
    if not match:
        return None
    name = _NAME.match(match.group(1))
    return name.group(0) if name else match.group(1)


def install(
    requirements: Path,
    target_dir: Path,
    target: Target,
    *,
    env: Mapping[str, str] | None = None,
    python: str | None = None,
) -> list[str]:
    """Run pip; return its argv. pip sees only the variables it needs of this process's
    environment (its own PIP_*, proxies, CA bundles, caches; no AccessKeys or CI tokens), plus
    ``env``, which adds to and overrides them.

    Raises :class:`ConfigError` (exit 2) when a requirement has no wheel for the target or the
    requirements conflict, :class:`ResourceFailedError` (exit 5) for any other pip failure.
    """
    argv = pip_argv(requirements, target_dir, target, python=python)
    child_env = {**allowed(os.environ, names=_PIP_NAMES, prefixes=("PIP_",)), **(env or {}),
                 "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(argv, env=child_env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode == 0:
        return argv
    said = _pip_errors(proc.stderr)
    where = f"{target.language} on {', '.join(target.platforms)}"
    package = None if _UNREACHABLE.search(proc.stderr) else missing_package(proc.stderr)
    versions = _VERSIONS.search(proc.stderr)
    if package and versions and versions.group(1).strip() != "none":
        raise ConfigError(
            f"'{_requirement(proc.stderr) or package}' (from {requirements}) matches no version of '{package}' "
            f"that has a binary wheel for {where}; the versions that have one are: {versions.group(1).strip()}. "
            "Pin one of them (or check the pin for a typo)."
        )
    if package:
        raise ConfigError(
            f"no binary wheel of '{package}' (from {requirements}) for {where}. The package is built "
            "without Docker from binary wheels only, so a package that publishes only a source "
            "distribution, or no manylinux x86_64 wheel for this Python version, cannot be installed. "
            f"Pin a version that has such a wheel, replace the package, or build a wheel for the target "
            f"and point PIP_FIND_LINKS at it. pip said: {said}"
        )
    if _CONFLICT.search(proc.stderr):
        raise ConfigError(f"the requirements in {requirements} conflict for {where}; loosen or align the pins. "
                          f"pip said: {said}")
    raise ResourceFailedError(
        f"pip failed (exit {proc.returncode}) installing {requirements} for {where}. "
        f"Check the index settings (PIP_INDEX_URL, pip.conf) and the network. pip said: {said}"
    )
