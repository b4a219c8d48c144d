"""Notices by e-mail, through a real SMTP server (aiosmtpd) in the test process, in Japanese and English."""

import email
from datetime import UTC, datetime
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import get_connection

from mdr.escalations.notices import Notice, notice_render, notice_send_email
from tests.live import free_port
from tests.mail import Inbox


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield (
        inbox,
        get_connection(
            "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=controller.port, timeout=5
        ),
    )
    controller.stop()


def _notice(**kw) -> Notice:
    values = dict(
        incident_id="6f1c0b1e-0000-4000-8000-000000000001",
        sequence=1,
        kind="first",
        tlp="AMBER",
        severity="high",
        priority="P1",
        title="Ransomware staging on WS-01 <script>",
        summary="Encoded PowerShell downloaded a loader.",
        detected_at=datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC),
        occurred_at=None,
        timezone="Asia/Tokyo",
        assets=[{"host": "ws-01", "ip": "10.0.0.5", "criticality": "high"}],
        attack=["T1059.001"],
        recommended_actions=["Isolate WS-01"],
        soc_contact="soc@example.net",
        ack_url="https://acme.mdr.example/ack/abc",
    )
    values.update(kw)
    return Notice(**values)


def test_japanese_notice_arrives_by_smtp_with_text_and_html(smtp):
    inbox, connection = smtp
    message_id = notice_send_email(notice=_notice(), to="csirt@acme.example", language="ja", connection=connection)
    ((rcpt, raw),) = inbox.messages
    message = email.message_from_bytes(raw, policy=policy.default)
    assert rcpt == ["csirt@acme.example"]
    assert message["Message-ID"] == message_id
    assert str(message["Subject"]).strip().startswith("【AMBER】インシデント通知 P1")
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "検知日時: 2026-11-22 10:02:03 JST (UTC+0900)" in text  # shown in the customer's time zone
    assert "推奨対応" in text and "Isolate WS-01" in text and "https://acme.mdr.example/ack/abc" in text
    assert "&lt;script&gt;" in html and "<script>" not in html  # the HTML part escapes what the text part carries


def test_english_follow_up_and_validation():
    subject, text, _ = notice_render(_notice(kind="follow_up", sequence=2, tlp="RED"), "en")
    assert subject == "[TLP:RED] Update #2: Ransomware staging on WS-01 <script>"
    assert "Detected: 2026-11-22 10:02:03 JST (UTC+0900)" in text
    with pytest.raises(ValueError):
        _notice(tlp="WHITE")  # TLP 2.0 renamed WHITE to CLEAR
