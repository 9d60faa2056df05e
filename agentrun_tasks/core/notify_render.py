"""Events as messages, in each platform's own markup (and as a CI summary in Markdown).

Each ``render_<type>`` returns the JSON body the platform documents; signing and delivery are
the adapters' job. Mentions are added to failures only.

* Slack incoming webhook: ``text`` (the notification fallback) plus Block Kit ``blocks``.
* DingTalk robot: ``msgtype: markdown``; people are mentioned through ``at.atMobiles`` /
  ``at.atUserIds`` *and* ``@<id>`` in the text (DingTalk shows the mention only with both).
* Feishu/Lark bot: an ``interactive`` card (``style: card``) or a rich-text ``post``; the request
  body at most 20 KB (Feishu refuses larger ones with code 9499): the reason and the analysis
  rows are shortened until it fits.
* WeCom group robot: ``msgtype: markdown`` (4096 bytes at most), mentions as ``<@userid>``.
* Generic webhook: the event as a flat JSON document (``schema: agentrun-tasks.notify/v1``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

from .notify import TEST, ChannelConfig, Event, Mention
from .report import format_table

SCHEMA = "agentrun-tasks.notify/v1"
_ICON = {"success": "✅", "failure": "❌", "info": "🚀"}
_HEADERS = ["metric", "candidate", "stable", "threshold", "verdict", "detail"]
_WECOM_BYTES = 4096
# Feishu's limit on the whole request body, less room for the signature fields the adapter adds.
_FEISHU_BYTES = 20 * 1024 - 256


def title(event: Event) -> str:
    """One line saying what happened, e.g. ``Release of version 2 to prod rolled back``."""
    e, agent = event, event.agent or "the agent"
    version = f"version {e.version}" if e.version else "the candidate"
    text = {
        "deploy.started": f"Deploying {agent} to {e.env}",
        "deploy.succeeded": f"Deployed {agent} to {e.env}",
        "deploy.failed": f"Deploy of {agent} to {e.env} failed",
        "release.step": f"Release of {version} to {e.env}: step {e.weight or 0:.0%} passed",
        "release.rolled-back": f"Release of {version} to {e.env} rolled back",
        "release.promoted": f"{version.capitalize()} of {agent} promoted to 100% in {e.env}",
        "release.aborted": f"Release of {version} to {e.env} aborted",
        "rotation.done": f"AccessKey of {e.env} rotated",
        "rotation.failed": f"AccessKey rotation of {e.env} failed",
        "pipeline.succeeded": f"{agent} in {e.env}: succeeded",
        "pipeline.failed": f"{agent} in {e.env}: failed",
        TEST: f"Test notification from agentrun-tasks ({e.env})",
    }.get(e.kind, f"{e.kind} ({e.env})")
    if e.kind == "release.rolled-back" and e.gate:
        text += f": {e.gate.metric} {e.gate.value} (threshold {e.gate.threshold})"
    return text


def headline(event: Event, channel: ChannelConfig | None = None) -> str:
    """The title with its status icon and, in keyword mode, the keyword the robot insists on."""
    text = f"{_ICON[event.status]} {title(event)}"
    keyword = channel.keyword if channel else None
    return f"[{keyword}] {text}" if keyword and keyword not in text else text


def facts(event: Event) -> list[tuple[str, str, str | None]]:
    """``(label, text, link)`` for every known fact of the event."""
    e = event
    version = f"{e.from_version} → {e.version}" if e.from_version and e.version else e.version
    rows = [("Environment", e.env, None), ("Agent", e.agent, None), ("Version", version, None),
            ("Gate", e.gate and f"{e.gate.gate or e.gate.metric}: {e.gate.value} against {e.gate.threshold}", None),
            ("Commit", e.commit and e.commit[:8], None), ("Actor", e.actor, None),
            ("CI run", e.run_url and "open", e.run_url), ("Endpoint", e.endpoint_url, e.endpoint_url)]
    return [(label, text, link) for label, text, link in rows if text]


def _mentions(event: Event, channel: ChannelConfig) -> Mention | None:
    return channel.mention if channel.mention and event.status == "failure" else None


def _table_text(event: Event) -> str:
    return format_table(_HEADERS, [list(asdict(r).values()) for r in event.analysis]) if event.analysis else ""


def _md_link(text: str, link: str | None) -> str:
    return f"[{text}]({link})" if link else text


def _md_facts(event: Event, bold: tuple[str, str] = ("**", "**")) -> list[str]:
    return [f"- {bold[0]}{label}{bold[1]}: {_md_link(text, link)}" for label, text, link in facts(event)]


def _md_analysis(event: Event) -> list[str]:
    """The analysis as list lines: the Markdown of DingTalk and WeCom has no tables."""
    return [f"- {r.metric}: {r.candidate} (stable {r.stable}, threshold {r.threshold}) **{r.verdict}**"
            for r in event.analysis]


# --- Slack ---------------------------------------------------------------------------------------

def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(event: Event, channel: ChannelConfig) -> dict:
    head = headline(event, channel)
    fields = [{"type": "mrkdwn", "text": f"*{label}*\n" + (f"<{link}|{_slack_escape(text)}>" if link
                                                            else _slack_escape(text))}
              for label, text, link in facts(event)][:10]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": head[:150]}}]
    if event.reason:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(event.reason)[:3000]}})
    blocks.append({"type": "section", "fields": fields})
    if event.analysis:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{_table_text(event)[:2990]}```"}})
    fallback = head + (f": {_slack_escape(event.reason)}" if event.reason else "")
    mention = _mentions(event, channel)
    if mention:
        tags = " ".join([f"<@{u}>" for u in mention.user_ids] + (["<!channel>"] if mention.all else []))
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": tags}]})
        fallback += " " + tags
    return {"text": fallback, "blocks": blocks}


# --- DingTalk -------------------------------------------------------------------------------------

def render_dingtalk(event: Event, channel: ChannelConfig) -> dict:
    head = headline(event, channel)
    lines = [f"#### {head}", ""] + ([event.reason, ""] if event.reason else []) + _md_facts(event)
    if event.analysis:
        lines += ["", "**Analysis**", "", *_md_analysis(event)]
    at: dict[str, Any] = {"atMobiles": [], "atUserIds": [], "isAtAll": False}
    mention = _mentions(event, channel)
    if mention:
        at = {"atMobiles": list(mention.mobiles), "atUserIds": list(mention.user_ids), "isAtAll": mention.all}
        lines += ["", " ".join(f"@{who}" for who in (*mention.mobiles, *mention.user_ids)) or "@all"]
    return {"msgtype": "markdown", "markdown": {"title": head, "text": "\n".join(lines)}, "at": at}


# --- Feishu / Lark ---------------------------------------------------------------------------------

_FEISHU_COLOUR = {"success": "green", "failure": "red", "info": "blue"}


def render_feishu(event: Event, channel: ChannelConfig) -> dict:
    body = _feishu(event, channel)
    while _size(body) > _FEISHU_BYTES and (event.analysis or len(event.reason or "") > 64):
        event = replace(event, analysis=event.analysis[: len(event.analysis) // 2]) if event.analysis else \
            replace(event, reason=(event.reason or "")[: len(event.reason or "") // 2] + " …")
        body = _feishu(event, channel)
    return body


def _size(body: dict) -> int:
    """The bytes the channels send for ``body`` (compact UTF-8 JSON)."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())


def _feishu(event: Event, channel: ChannelConfig) -> dict:
    head = headline(event, channel)
    mention = _mentions(event, channel)
    ids = [*(mention.user_ids if mention else ()), *(["all"] if mention and mention.all else [])]
    if channel.style == "post":
        rows: list[list[dict]] = [[{"tag": "text", "text": event.reason}]] if event.reason else []
        for label, text, link in facts(event):
            rows.append([{"tag": "text", "text": f"{label}: "},
                         {"tag": "a", "text": text, "href": link} if link else {"tag": "text", "text": text}])
        rows += [[{"tag": "text", "text": line}] for line in _table_text(event).splitlines()]
        if ids:
            rows.append([{"tag": "at", "user_id": who} for who in ids])
        return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": head, "content": rows}}}}
    elements: list[dict[str, Any]] = []
    if event.reason:
        elements.append({"tag": "div", "text": {"tag": "lark_md", "content": event.reason}})
    elements.append({"tag": "div", "fields": [
        {"is_short": True, "text": {"tag": "lark_md", "content": f"**{label}**\n{_md_link(text, link)}"}}
        for label, text, link in facts(event)]})
    if event.analysis:
        elements += [{"tag": "hr"}, {"tag": "markdown", "content": "\n".join(_md_analysis(event))}]
    if ids:
        tags = " ".join(f"<at id={i}></at>" for i in ids)
        elements.append({"tag": "div", "text": {"tag": "lark_md", "content": tags}})
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": head}, "template": _FEISHU_COLOUR[event.status]},
        "elements": elements}}


# --- WeCom -----------------------------------------------------------------------------------------

_WECOM_COLOUR = {"success": "info", "failure": "warning", "info": "comment"}


def render_wecom(event: Event, channel: ChannelConfig) -> dict:
    head = f'<font color="{_WECOM_COLOUR[event.status]}">{headline(event, channel)}</font>'
    lines = [f"### {head}"] + ([f"> {event.reason}"] if event.reason else []) + _md_facts(event)
    if event.analysis:
        lines += ["**Analysis**", *_md_analysis(event)]
    mention = _mentions(event, channel)
    if mention:
        lines.append(" ".join(f"<@{u}>" for u in mention.user_ids))
    content = "\n".join(lines)
    while len(content.encode()) > _WECOM_BYTES:  # the robot rejects longer content outright
        content = content[: len(content) - 64]
    return {"msgtype": "markdown", "markdown": {"content": content}}


# --- generic webhook -----------------------------------------------------------------------------

def render_webhook(event: Event, channel: ChannelConfig) -> dict:
    body = {"schema": SCHEMA, "event": event.kind, "status": event.status, "title": title(event),
            **{k: v for k, v in asdict(event).items() if k not in ("kind", "analysis", "gate")},
            "gate": asdict(event.gate) if event.gate else None,
            "analysis": [asdict(r) for r in event.analysis]}
    mention = _mentions(event, channel)
    if mention:
        body["mention"] = asdict(mention)
    return body


RENDERERS = {"slack": render_slack, "dingtalk": render_dingtalk, "feishu": render_feishu, "wecom": render_wecom,
             "webhook": render_webhook}


def render(event: Event, channel: ChannelConfig) -> dict:
    """The body ``channel``'s platform expects for ``event``."""
    return RENDERERS[channel.type](event, channel)


# --- CI summary --------------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_markdown(event: Event) -> str:
    """The event as a CI job summary: a heading, a table of facts and the analysis table."""
    lines = [f"### {_ICON[event.status]} {title(event)}", ""]
    if event.reason:
        lines += [_cell(event.reason), ""]
    lines += ["| | |", "| --- | --- |"]
    lines += [f"| {label} | {_cell(_md_link(text, link))} |" for label, text, link in facts(event)]
    if event.analysis:
        lines += ["", "| " + " | ".join(_HEADERS) + " |", "|" + " --- |" * len(_HEADERS)]
        lines += ["| " + " | ".join(_cell(v) for v in asdict(r).values()) + " |" for r in event.analysis]
    return "\n".join(lines) + "\n"
