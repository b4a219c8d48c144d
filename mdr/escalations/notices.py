"""Escalation notices to the customer's CSIRT: the content (NIST SP 800-61 fields, TLP 2.0) and the e-mail
channel. Japanese and English, chosen by the contact's language.

The notice is plain data (``Notice``) rendered by templates (``templates/emails/notice_<lang>.{txt,html}``) and
sent through Django's mail backend (SMTP in production, from ``EMAIL_URL``). The Message-ID is returned so the
delivery record can prove what was sent when; a retry passes it back in, so receivers see one message.

A contact with a PGP public key gets PGP/MIME (RFC 3156, built in ``mdr.escalations.pgp``): the text and HTML
parts and the real subject travel inside the encryption (protected headers), and the visible subject only
names the TLP label, the kind of notice and the incident id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage as MimeEntity
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid
from django.template.loader import render_to_string

from mdr.escalations.pgp import PgpMimeEmail, encrypt

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

# Visible subjects of encrypted notices: enough to sort and route the mail, nothing of the incident's content.
# (The Japanese ones use full-width parentheses, as Japanese text does.)
ENCRYPTED_SUBJECTS = {
    "ja": {
        "first": "【{tlp}】インシデント通知（暗号化） {incident_id}",  # noqa: RUF001
        "follow_up": "【{tlp}】続報 #{sequence}（暗号化） {incident_id}",  # noqa: RUF001
        "final": "【{tlp}】最終報告（暗号化） {incident_id}",  # noqa: RUF001
    },
    "en": {
        "first": "[TLP:{tlp}] Incident notice (encrypted) {incident_id}",
        "follow_up": "[TLP:{tlp}] Update #{sequence} (encrypted) {incident_id}",
        "final": "[TLP:{tlp}] Final report (encrypted) {incident_id}",
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


def notice_encrypted_subject(notice: Notice, language: str) -> str:
    """The subject shown outside the encryption: TLP label, kind of notice and incident id only."""
    language = language if language in ("ja", "en") else "en"
    return ENCRYPTED_SUBJECTS[language][notice.kind].format(
        tlp=notice.tlp, sequence=notice.sequence, incident_id=notice.incident_id
    )


def _protected_entity(*, subject: str, text: str, html: str, from_email: str, to: str, message_id: str) -> bytes:
    """The inner MIME entity of an encrypted notice: multipart/alternative (text, HTML; UTF-8) that carries the
    real Subject and the addressing headers itself ("protected headers"), for mail clients to show."""
    entity = MimeEntity(policy=policy.SMTP)
    entity["Subject"] = subject
    entity["From"] = from_email
    entity["To"] = to
    entity["Message-ID"] = message_id
    entity.set_content(text, subtype="plain", charset="utf-8", cte="base64")
    entity.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    entity.set_param("protected-headers", "v1")
    del entity["MIME-Version"]  # a header of the outer message, not of an enclosed entity
    return entity.as_bytes()


def notice_send_email(
    *,
    notice: Notice,
    to: str,
    language: str,
    message_id: str | None = None,
    pgp_key: str = "",
    connection=None,
) -> str:
    """Send one notice to one address; returns the Message-ID (kept on the delivery record).

    ``message_id``: the Message-ID of an earlier attempt of the same delivery, reused so receivers deduplicate.
    ``pgp_key``: the contact's ASCII-armoured public key; when set the notice goes out PGP/MIME-encrypted or
    not at all (``PgpError``).
    """
    subject, text, html = notice_render(notice, language)
    message_id = message_id or make_msgid(domain=settings.MDR_BASE_DOMAIN)
    headers = {
        "Message-ID": message_id,
        "X-MDR-Incident": notice.incident_id,
        "X-MDR-Notice-Sequence": str(notice.sequence),
    }
    connection = connection or get_connection()
    if pgp_key:
        inner = _protected_entity(
            subject=subject, text=text, html=html, from_email=settings.DEFAULT_FROM_EMAIL, to=to, message_id=message_id
        )
        message = PgpMimeEmail(
            subject=notice_encrypted_subject(notice, language),
            body=encrypt(inner, armored_key=pgp_key),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
            headers=headers,
            connection=connection,
        )
    else:
        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
            headers=headers,
            connection=connection,
        )
        message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)
    return message_id
