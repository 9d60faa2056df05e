"""Build the agent package of one environment, or reuse it when its inputs are unchanged.

:func:`build_artifact` is what ``invoke build`` and the deploy task call. Artifacts live under
``<root>/.agentrun/build/<env>/<inputs_hash>.zip`` beside a small JSON manifest; each is written
to a temporary name and renamed into place, so a killed build leaves nothing that looks reusable.

Requirements are hashed as written, not as resolved: pin them (``pkg==1.2.3``) for repeatable
packages; ``force=True`` picks up new releases of unpinned ones.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ..adapters import pip_target
from ..core import build as core
from ..core import package_files
from ..core.build import Artifact
from ..core.errors import BusyError, ConfigError
from ..core.model import EnvConfig
from ..core.report import Reporter

# label -> a context yielding update(state): the reporter's progress line, or nothing shown.
Progress = Callable[[str], AbstractContextManager[Callable[[str], None]]]

KEEP_ARTIFACTS = 3  # per environment: the current one and the two most recently used before it
LOCK_TIMEOUT = 600.0
PORTABLE_SHEBANG = b"#!/usr/bin/env python3\n"


def build_dir_for(env: EnvConfig, root: Path) -> Path:
    return Path(root) / ".agentrun" / "build" / env.name


def build_artifact(env: EnvConfig, *, root: Path, force: bool = False, reporter: Reporter | None = None) -> Artifact:
    """The package of ``env.code_dir`` with its requirements installed for the cloud runtime.

    Reuses the artifact whose inputs hash matches unless ``force``. Raises :class:`ConfigError`
    for a missing code directory, an unknown language or a requirement without a binary wheel.
    """
    started = time.perf_counter()
    say = reporter.line if reporter else (lambda text: None)
    progress = reporter.progress if reporter else _silent_progress
    code = env.agent.get("code")
    if not code:
        raise ConfigError(
            f"environment '{env.name}' has no agent.code in {env.path} (a customContainerConfig agent "
            "runs a prebuilt image): there is nothing to package. Add agent.code.src to build from source."
        )
    target = core.target_for(code.get("language"))
    code_dir = env.code_dir
    _check_inside_project(env, code_dir)
    if not code_dir.is_dir():
        raise ConfigError(
            f"the code directory {code_dir} of environment '{env.name}' does not exist; "
            f"set agent.code.src in {env.path} to the directory holding the agent's code."
        )
    files = package_files.select_files(code_dir, package_files.IgnoreRules.for_dir(code_dir))
    core.check_unzipped(files)  # before hashing: a huge (or sparse) file is refused unread
    requirements = code_dir / core.REQUIREMENTS
    wants_requirements = target.installs_requirements and requirements.is_file()
    req_text = requirements.read_text(encoding="utf-8") if wants_requirements else ""
    digest = core.inputs_hash(files, req_text, target)

    out_dir = build_dir_for(env, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(out_dir / ".lock"), timeout=LOCK_TIMEOUT):
            _remove_leftovers(out_dir)
            artifact = core.cached_artifact(out_dir, digest, force=force)
            if artifact is not None:
                os.utime(core.manifest_path(out_dir, digest))  # most recently used: kept by pruning
                say(f"{env.name}: inputs unchanged, reused {artifact.path.name}")
            else:
                artifact = _build(files, requirements, req_text, target, out_dir, digest, say, progress)
                _prune(out_dir, digest)
    except Timeout:
        raise BusyError(
            f"another build of environment '{env.name}' has held {out_dir / '.lock'} for {LOCK_TIMEOUT:.0f}s; "
            "wait for it to finish, or delete the lock file if no build is running."
        ) from None
    return dataclasses.replace(artifact, seconds=round(time.perf_counter() - started, 3))


def _check_inside_project(env: EnvConfig, code_dir: Path) -> None:
    """agent.code.src stays a folder inside the project: an absolute path elsewhere, or the
    project itself (its .env files, .agentrun state), is packaged only when the env file says
    ``code_outside_project: true``."""
    project = env.project_root.resolve()
    if env.code_outside_project or project in code_dir.parents:
        return
    what = "is the whole project" if code_dir == project else f"is outside the project {project}"
    raise ConfigError(
        f"agent.code.src of environment '{env.name}' ({code_dir}) {what}; the package would carry files "
        f"that are not the agent's. Point it at the agent's folder inside the project, or set "
        f"code_outside_project: true in {env.path.name} if this is intended; nothing was built."
    )


def _build(files: list[package_files.SourceFile], requirements: Path, req_text: str, target: core.Target,
           out_dir: Path, digest: str, say: Callable[[str], None], progress: Progress) -> Artifact:
    with tempfile.TemporaryDirectory(dir=out_dir, prefix="tmp-") as tmp_name:
        tmp = Path(tmp_name)
        deps: list[package_files.SourceFile] = []
        wanted = core.requirement_lines(req_text)
        if not target.installs_requirements:
            say(f"{target.language}: packaging the code as is (no dependency step)")
        elif not wanted:
            say(f"{target.language}: no requirements, no dependency step")
        else:
            say(f"installing {len(wanted)} requirement(s) for {target.language} on {', '.join(target.platforms)}")
            deps_dir = tmp / "deps"
            with progress("pip install") as update:  # minutes for large wheels: show that it is alive
                update("running")
                pip_target.install(requirements, deps_dir, target)
            _portable_scripts(deps_dir / "bin")
            deps = package_files.select_files(deps_dir, package_files.IgnoreRules(("__pycache__/", "*.pyc")))
        zip_tmp = tmp / "package.zip"
        everything = [*deps, *files]
        core.check_unzipped(everything)
        count = core.write_zip(everything, zip_tmp)
        sha256, crc64, size = core.file_digests(zip_tmp)
        core.check_zipped(size, everything)  # the temporary folder, zip included, goes with the error
        final = core.artifact_path(out_dir, digest)
        os.replace(zip_tmp, final)
        artifact = Artifact(final, size, sha256, crc64, digest, False, count, 0.0)
        manifest_tmp = tmp / "manifest.json"
        manifest_tmp.write_text(json.dumps(core.manifest_for(artifact, target), indent=2, sort_keys=True) + "\n")
        os.replace(manifest_tmp, core.manifest_path(out_dir, digest))  # last: it marks the zip reusable
    say(f"built {final.name}: {count} file{'' if count == 1 else 's'}")
    return artifact


def _portable_scripts(bin_dir: Path) -> None:
    """pip writes this machine's interpreter path into console scripts; the runtime has its own."""
    if not bin_dir.is_dir():
        return
    for script in bin_dir.iterdir():
        if not script.is_file():
            continue
        data = script.read_bytes()
        first, _, rest = data.partition(b"\n")
        if first.startswith(b"#!") and b"python" in first:
            script.write_bytes(PORTABLE_SHEBANG + rest)


@contextmanager
def _silent_progress(label: str) -> Iterator[Callable[[str], None]]:
    yield lambda state: None


def _remove_leftovers(out_dir: Path) -> None:
    """Working folders of builds that were killed. Called under the build lock: none is in use."""
    for leftover in out_dir.glob("tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _prune(out_dir: Path, current: str) -> None:
    manifests = sorted(out_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    others = [p.stem for p in manifests if p.stem != current]
    keep = {current, *others[: KEEP_ARTIFACTS - 1]}
    for path in core.stale_artifacts(out_dir, keep):
        path.unlink(missing_ok=True)

