"""What a good answer is, for the post-deploy health check and the canary probe alike.

Both send the request ``env.health`` describes and judge the answer with :func:`judge`, so an
agent with a custom health path or status passes the deploy and the canary steps on the same
terms (before, the probe hard-coded the chat path and counted any 2xx).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypedDict

from .model import HealthConfig

CHAT_SUFFIX = "/chat/completions"


@dataclass(frozen=True)
class Judgement:
    ok: bool
    detail: str  # the answer's text, or why it is not a good one


class ClientUrls(TypedDict):
    chat_url: str
    base_url: str | None


def client_urls(endpoint_url: str, cfg: HealthConfig) -> ClientUrls:
    """The URLs a client calls as printed: ``chat_url`` (what curl POSTs to: the endpoint plus the
    health path, the agent's own route) and ``base_url`` (an OpenAI client's ``base_url``: the
    chat URL without ``/chat/completions``; None when the agent is no chat-completion server)."""
    chat = endpoint_url.rstrip("/") + "/" + cfg.path.lstrip("/")
    base = chat[: -len(CHAT_SUFFIX)] if chat.rstrip("/").endswith(CHAT_SUFFIX) else None
    return {"chat_url": chat, "base_url": base.rstrip("/") if base else None}


def request_body(cfg: HealthConfig) -> dict:
    """The JSON body of one check: an OpenAI chat completion with the configured model and prompt."""
    return {"model": cfg.model, "messages": [{"role": "user", "content": cfg.prompt}], "stream": False}


def judge(cfg: HealthConfig, status: int, payload: bytes) -> Judgement:
    """Good: the expected status and, on a chat-completion path, a chat completion in the body.

    A 2xx that is no chat completion is not healthy there: a proxy's or a framework's default
    page must not pass for the agent.
    """
    text = payload[:200].decode(errors="replace")
    if status != cfg.expect_status:
        return Judgement(False, f"HTTP {status} (expected {cfg.expect_status}): {text}".rstrip(": "))
    if not cfg.path.rstrip("/").endswith(CHAT_SUFFIX):
        return Judgement(True, text)
    answer = _chat_answer(payload)
    if answer is None:
        return Judgement(False, f"HTTP {status}, but the answer is not an OpenAI chat completion")
    return Judgement(True, answer)


def _chat_answer(payload: bytes) -> str | None:
    try:
        message = json.loads(payload)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return str(message)[:200]
