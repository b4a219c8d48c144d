"""Escalation notices to chat: Slack incoming webhooks and Microsoft Teams Workflows, in Japanese and English.

A chat message is a short form of the e-mail notice (``notices.Notice``): TLP, priority, title, summary,
severity, detection time in the notice's time zone, affected assets, ATT&CK techniques, next update and the
acknowledgement link, with the incident id and notice number. It carries nothing the notice does not (no tenant,
contact or delivery data; the message id travels only as the ``X-MDR-Message-Id`` request header) and leaves
out the occurrence time, indicators, impact, actions and the SOC contact, which stay in the e-mail.

Slack gets Block Kit (``text`` as the notification fallback) with user text escaped for mrkdwn (``&``, ``<``,
``>``, so a title cannot open a link or ping ``<!channel>``) and cut to Slack's per-element limits. Teams gets
an Adaptive Card 1.4 posted to a Workflows (Power Automate) "When a Teams webhook request is received" URL:
Microsoft retired the Office 365 connectors (incoming webhooks with MessageCard), Workflows is the supported
path. Both go through ``webhook.post_json``, so the SSRF guard, address pinning, short timeouts and no
redirects apply as for signed webhooks.
"""

from __future__ import annotations

import json

from mdr.escalations import webhook
from mdr.escalations.notices import Notice

KINDS = ("slack", "teams")

LABELS = {
    "en": {
        "first": "Incident notice",
        "follow_up": "Update #{sequence}",
        "final": "Final report",
        "incident": "Incident",
        "severity": "Severity",
        "priority": "Priority",
        "detected": "Detected",
        "assets": "Affected assets",
        "attack": "ATT&CK",
        "next_update": "Next update",
        "acknowledge": "Acknowledge",
        "criticality": "criticality {value}",
        "unknown": "unknown",
    },
    "ja": {
        "first": "インシデント通知",
        "follow_up": "続報 #{sequence}",
        "final": "最終報告",
        "incident": "インシデント番号",
        "severity": "重要度",
        "priority": "優先度",
        "detected": "検知日時",
        "assets": "影響を受ける資産",
        "attack": "ATT&CK",
        "next_update": "次回報告予定",
        "acknowledge": "受領確認",
        "criticality": "重要度 {value}",
        "unknown": "不明",
    },
}

# Slack's limits (characters) with some room: header 150, section text 3000, field 2000, button text 75.
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 2900
SLACK_FIELD_MAX = 1900
SLACK_FALLBACK_MAX = 3000
SLACK_BUTTON_URL_MAX = 3000
# Teams Workflows accept about 28 KB per message: long text is cut well below that.
TEAMS_SUMMARY_MAX = 6000
TEAMS_FACT_MAX = 1500
ASSETS_MAX = 20

TEAMS_TLP_COLORS = {"RED": "Attention", "AMBER+STRICT": "Warning", "AMBER": "Warning", "GREEN": "Good"}
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _language(language: str) -> str:
    return language if language in LABELS else "en"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    """Text as Slack shows it literally: ``&``, ``<`` and ``>`` are mrkdwn control characters."""
    return "".join(_SLACK_ESCAPES.get(ch, ch) for ch in text)


def _mrkdwn(text: str, limit: int) -> str:
    """Escaped and cut to ``limit`` without splitting an entity."""
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    out, size = [], 0
    for ch in text:
        piece = _SLACK_ESCAPES.get(ch, ch)
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + "…"


def _kind_label(notice: Notice, labels: dict[str, str]) -> str:
    return labels[notice.kind].format(sequence=notice.sequence)


def _header(notice: Notice, language: str) -> str:
    labels = LABELS[language]
    if language == "ja":
        return f"【TLP:{notice.tlp}】{notice.priority} {_kind_label(notice, labels)}"
    return f"[TLP:{notice.tlp}] {notice.priority} {_kind_label(notice, labels)}"


def _assets(notice: Notice, language: str) -> list[str]:
    labels = LABELS[language]
    lines = []
    for asset in notice.assets[:ASSETS_MAX]:
        names = " ".join(str(asset[key]) for key in ("host", "ip", "user") if asset.get(key)) or "-"
        criticality = labels["criticality"].format(value=asset.get("criticality") or labels["unknown"])
        lines.append(f"{names} ({criticality})")
    if len(notice.assets) > ASSETS_MAX:
        lines.append(f"… +{len(notice.assets) - ASSETS_MAX}")
    return lines


def _ack_url(notice: Notice) -> str:
    """The acknowledgement link if it is an http(s) URL a button may carry."""
    url = notice.ack_url
    if url.startswith(("https://", "http://")) and len(url) <= SLACK_BUTTON_URL_MAX:
        return url
    return ""


def _facts(notice: Notice, language: str) -> list[tuple[str, str]]:
    """(label, value) pairs both channels show, in this order; empty values left out."""
    labels = LABELS[language]
    facts = [
        (labels["severity"], notice.severity),
        (labels["priority"], notice.priority),
        (labels["detected"], notice.local(notice.detected_at)),
        (labels["next_update"], notice.local(notice.next_update_at)),
        (labels["incident"], f"{notice.incident_id} (#{notice.sequence})"),
    ]
    return [(label, value) for label, value in facts if value]


def slack_payload(notice: Notice, language: str) -> dict:
    """Slack incoming-webhook JSON: ``text`` (notification fallback) and Block Kit ``blocks``."""
    language = _language(language)
    labels = LABELS[language]
    ack_url = _ack_url(notice)
    fallback = f"{_header(notice, language)}: {notice.title}" + (
        f"\n{labels['acknowledge']}: {ack_url}" if ack_url else ""
    )

    fields = _facts(notice, language)
    if notice.assets:
        fields.append((labels["assets"], "\n".join(_assets(notice, language))))
    if notice.attack:
        fields.append((labels["attack"], ", ".join(notice.attack)))

    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(_header(notice, language), SLACK_HEADER_MAX)}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*" + _mrkdwn(notice.title, 500) + "*\n" + _mrkdwn(notice.summary, SLACK_SECTION_MAX - 510),
                "verbatim": True,
            },
        },
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*{slack_escape(label)}*\n{_mrkdwn(value, SLACK_FIELD_MAX)}",
                    "verbatim": True,
                }
                for label, value in fields[:10]
            ],
        },
    ]
    if ack_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": labels["acknowledge"]},
                        "url": ack_url,
                        "style": "primary",
                        "action_id": "mdr_acknowledge",
                    }
                ],
            }
        )
    return {"text": _mrkdwn(fallback, SLACK_FALLBACK_MAX), "blocks": blocks}


def teams_payload(notice: Notice, language: str) -> dict:
    """A Teams Workflows message: one Adaptive Card 1.4 attachment (TextBlocks, a FactSet, Action.OpenUrl)."""
    language = _language(language)
    labels = LABELS[language]
    facts = _facts(notice, language)
    if notice.assets:
        facts.append((labels["assets"], "; ".join(_assets(notice, language))))
    if notice.attack:
        facts.append((labels["attack"], ", ".join(notice.attack)))
    card: dict = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {
                "type": "TextBlock",
                "text": _header(notice, language),
                "weight": "Bolder",
                "color": TEAMS_TLP_COLORS.get(notice.tlp, "Default"),
                "wrap": True,
            },
            {"type": "TextBlock", "text": _clip(notice.title, 500), "size": "Large", "weight": "Bolder", "wrap": True},
            # TextBlock text is Markdown: a paragraph break needs an empty line
            {"type": "TextBlock", "text": _clip(notice.summary, TEAMS_SUMMARY_MAX).replace("\n", "\n\n"), "wrap": True},
            {"type": "FactSet", "facts": [{"title": t, "value": _clip(v, TEAMS_FACT_MAX)} for t, v in facts]},
        ],
    }
    ack_url = _ack_url(notice)
    if ack_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": labels["acknowledge"], "url": ack_url}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def deliver(
    *,
    kind: str,
    url: str,
    notice: Notice,
    language: str,
    message_id: str,
    allow_private: bool,
    timeout: float = 5.0,
) -> webhook.DeliveryResult:
    """Post ``notice`` once to a Slack or Teams webhook URL; the caller records the result and decides on retries.

    Raises ``ValueError`` for an unknown ``kind`` and ``webhook.WebhookTargetRefused`` for a URL the SSRF guard
    refuses, both before any connection. Slack succeeds with 200 and the body ``ok`` (its errors come as 4xx with
    a reason in the body, kept in ``error``); Teams Workflows accept with 202 (any 2xx counts).
    """
    if kind == "slack":
        payload = slack_payload(notice, language)
    elif kind == "teams":
        payload = teams_payload(notice, language)
    else:
        raise ValueError(f"chat kind must be one of {KINDS}")
    body = json.dumps(payload, ensure_ascii=False).encode()
    result = webhook.post_json(
        url=url, body=body, headers={"X-MDR-Message-Id": message_id}, allow_private=allow_private, timeout=timeout
    )
    ok, error = result.ok, result.error
    if ok and kind == "slack" and result.response.strip() != "ok":
        ok, error = False, f"Slack answered HTTP {result.status} without 'ok'"
    if not ok and result.status is not None and result.response.strip():
        error = f"{error}: {result.response.strip()[:200]}"
    return webhook.DeliveryResult(
        ok=ok,
        status=result.status,
        response=result.response,
        error=error,
        duration_ms=result.duration_ms,
        message_id=message_id,
    )
