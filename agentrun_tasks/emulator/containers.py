"""Container agents (``artifactType: Container``, ``containerConfiguration``) in the emulator.

There is no container engine here, so the image is never pulled: a container agent runs as a
local process of its ``containerConfiguration.command`` (in an empty working directory, with
the port in ``PORT``/``FC_SERVER_PORT`` like a code agent). The request shape is checked as the
SDK sends it (``image`` required, ``port`` optional). Without a command, or with one that names
no local executable, the create is refused with what the emulator cannot do and how to test the
agent here instead.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import zipfile
from pathlib import Path

from .endpoints import invalid
from .packages import store_zip

_PYTHON = re.compile(r"python(3(\.\d+)?)?")


def _empty_package(directory: Path) -> str:
    buf = io.BytesIO()
    zipfile.ZipFile(buf, "w").close()
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    store_zip(directory, sha, data)
    return sha


def container_snapshot(body: dict, runtime: dict | None, packages: Path, default_port: int) -> dict:
    """The process snapshot ``{package, command, port, env}`` of a container agent, or a 400."""
    config = body.get("containerConfiguration") or (runtime or {}).get("containerConfiguration") or {}
    image = config.get("image") or ""
    if not image:
        raise invalid("containerConfiguration.image is required when artifactType is Container.")
    command = [str(part) for part in config.get("command") or []]
    if not command:
        raise invalid(f"The local emulator cannot pull or run image {image}: it has no container engine. Give "
                      "containerConfiguration.command a local command that serves the agent (e.g. "
                      "[\"python3\", \"app.py\"] with an absolute path) to run it as a process, or deploy the "
                      "same agent as code.")
    if not (_PYTHON.fullmatch(command[0]) or shutil.which(command[0])):
        raise invalid(f"The local emulator runs a container agent as a local process of its command, and "
                      f"{command[0]!r} (from image {image}) is not an executable on this machine.")
    source = {**(runtime or {}), **body}
    return {"package": _empty_package(packages), "command": command,
            "port": int(config.get("port") or source.get("port") or default_port),
            "env": {str(k): str(v) for k, v in (source.get("environmentVariables") or {}).items()}}
