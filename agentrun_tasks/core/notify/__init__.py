"""Notifications, as data: the events a task announces (:mod:`.events`) and the ``notify:``
block of an env file that names the channels and what each wants (:mod:`.config`). Rendering
lives in :mod:`agentrun_tasks.core.notify_render`; delivery in ``adapters/channels``."""

from .config import (
    DEFAULT_ON,
    DEFAULT_TIMEOUT,
    TYPES,
    ChannelConfig,
    KeyringRef,
    Mention,
    build,
    notify_block,
    secret_setting,
    webhook_url,
)
from .events import (
    ABORTED,
    DEPLOY_FAILED,
    DEPLOY_STARTED,
    DEPLOY_SUCCEEDED,
    FAILURE,
    GROUPS,
    KINDS,
    PIPELINE_FAILED,
    PIPELINE_SUCCEEDED,
    PROGRESS,
    PROMOTED,
    ROLLED_BACK,
    ROTATION_DONE,
    ROTATION_FAILED,
    STEP_PASSED,
    SUCCESS,
    TEST,
    AnalysisRow,
    Event,
    Gate,
    analysis_rows,
    by_hand_event,
    event_from_ci,
    expand,
    failure_reason,
    release_event,
    step_event,
)

__all__ = [
    "ABORTED", "DEFAULT_ON", "DEFAULT_TIMEOUT", "DEPLOY_FAILED", "DEPLOY_STARTED", "DEPLOY_SUCCEEDED", "FAILURE",
    "GROUPS", "KINDS", "PIPELINE_FAILED", "PIPELINE_SUCCEEDED", "PROGRESS", "PROMOTED", "ROLLED_BACK",
    "ROTATION_DONE", "ROTATION_FAILED", "STEP_PASSED", "SUCCESS", "TEST", "TYPES", "AnalysisRow", "ChannelConfig",
    "Event", "Gate", "KeyringRef", "Mention", "analysis_rows", "build", "by_hand_event", "event_from_ci", "expand",
    "failure_reason", "notify_block", "release_event", "secret_setting", "step_event", "webhook_url",
]
