"""Escalation notices to the customer's CSIRT: the content (NIST SP 800-61 fields, TLP 2.0) and the e-mail
channel. Japanese and English, chosen by the contact's language.

The notice is plain data (``Notice``) rendered by templates (``templates/emails/notice_<lang>.{txt,html}``) and
sent through Django's mail backend (SMTP in production, from ``EMAIL_URL``). The Message-ID is returned so the
delivery record can prove what was sent when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid
from django.template.loader import render_to_string

TLP_LABELS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
KINDS = ("first", "follow_up", "final")


@dataclass(frozen=True)
class Notice:
    incident_id: str
    sequence: int
    kind: str  # first | follow_up | final
    tlp: str
    severity: str
    priority: str
    title: str
    summary: str
    detected_at: datetime
    occurred_at: datetime | None
    timezone: str
    assets: list[dict] = field(default_factory=list)  # {host, ip, user, criticality}
    indicators: list[str] = field(default_factory=list)
    attack: list[str] = field(default_factory=list)
    impact: dict = field(default_factory=dict)  # functional, information, recoverability
    actions_taken: list[str] = field(default_factory=list)
    recommended_actions: list[str] = field(default_factory=list)
    next_update_at: datetime | None = None
    soc_contact: str = ""
    ack_url: str = ""

    def __post_init__(self):
        if self.tlp not in TLP_LABELS:
            raise ValueError(f"tlp must be one of {TLP_LABELS}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")

    def local(self, when: datetime | None) -> str:
        if when is None:
            return ""
        return when.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)")


SUBJECTS = {
    "ja": {
        "first": "【{tlp}】インシデント通知 {priority}: {title}",
        "follow_up": "【{tlp}】続報 #{sequence}: {title}",
        "final": "【{tlp}】最終報告: {title}",
    },
    "en": {
        "first": "[TLP:{tlp}] Incident notice {priority}: {title}",
        "follow_up": "[TLP:{tlp}] Update #{sequence}: {title}",
        "final": "[TLP:{tlp}] Final report: {title}",
    },
}


def notice_render(notice: Notice, language: str) -> tuple[str, str, str]:
    """(subject, text, html) of ``notice`` in ``language`` (ja or en)."""
    language = language if language in ("ja", "en") else "en"
    subject = SUBJECTS[language][notice.kind].format(
        tlp=notice.tlp, priority=notice.priority, title=notice.title, sequence=notice.sequence
    )
    context = {
        "n": notice,
        "detected": notice.local(notice.detected_at),
        "occurred": notice.local(notice.occurred_at),
        "next_update": notice.local(notice.next_update_at),
    }
    text = render_to_string(f"emails/notice_{language}.txt", context)
    # The HTML shows the same text, escaped (the text template does not escape: it is plain text).
    html = render_to_string(f"emails/notice_{language}.html", context | {"text_body": text})
    return subject[:250], text, html


def notice_send_email(*, notice: Notice, to: str, language: str, connection=None) -> str:
    """Send one notice to one address; returns the Message-ID (kept on the delivery record)."""
    subject, text, html = notice_render(notice, language)
    message_id = make_msgid(domain=settings.MDR_BASE_DOMAIN)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "Message-ID": message_id,
            "X-MDR-Incident": notice.incident_id,
            "X-MDR-Notice-Sequence": str(notice.sequence),
        },
        connection=connection or get_connection(),
    )
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)
    return message_id
