"""Where an environment keeps what must outlive a CI runner: release state (locks, history,
failed marks) and code packages too large to inline. Both live in one OSS bucket; the
emulator's environment uses the emulator's OSS, so rehearsals take the same path."""

from __future__ import annotations

EMULATOR_BUCKET = "agentrun-tasks-state"


def _oss(session, credentials):
    """The environment's OSS store, or None when it names no bucket."""
    env = session.env
    release = env.release
    if env.emulator:
        from .emulator.lifecycle import ensure_running
        from .statestore import OssStateStore

        info = ensure_running(session.root)
        store = OssStateStore(info.oss_url, EMULATOR_BUCKET, release.state_prefix, credentials, env.region,
                              retry=env.retry_policy)
        store.ensure_bucket()
        return store
    if release.state_bucket:
        from .statestore import OssStateStore

        endpoint = release.state_endpoint or f"https://oss-{env.region}.aliyuncs.com"
        return OssStateStore(endpoint, release.state_bucket, release.state_prefix, credentials, env.region,
                             retry=env.retry_policy)
    return None


def open_state_store(session, credentials):
    """Release state: the OSS bucket, else a folder on this machine (with a warning)."""
    store = _oss(session, credentials)
    if store is not None:
        return store
    from .filestore import FileStateStore

    session.reporter.warn(f"{session.env.path.name} names no release.state_bucket: locks and history are kept on "
                          "this machine only (.agentrun/state/) and do not protect releases from other CI runners.")
    return FileStateStore(session.root / ".agentrun" / "state")


def open_code_store(session, credentials, artifact):
    """The OSS store for a package above the inline limit; None when the package is inlined."""
    if artifact.size <= session.env.inline_zip_limit:
        return None
    return _oss(session, credentials)
