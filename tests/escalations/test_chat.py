"""Notices to Slack and Microsoft Teams, posted to a real HTTP endpoint on loopback: what arrives in each
language, Slack mrkdwn escaping, failures, and the SSRF guard refusing before any connection."""

import json
import re
import socket
from datetime import UTC, datetime

import pytest

from mdr.escalations import chat, webhook
from mdr.escalations.notices import Notice
from tests.escalations.test_webhook import Endpoint

ACK_URL = "https://acme.mdr.example/ack/abc?token=t1&lang=ja"


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


def _notice(**kw) -> Notice:
    values = dict(
        incident_id="6f1c0b1e-0000-4000-8000-000000000001",
        sequence=1,
        kind="first",
        tlp="AMBER",
        severity="high",
        priority="P1",
        title="Ransomware staging on WS-01",
        summary="Encoded PowerShell downloaded a loader.",
        detected_at=datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC),
        occurred_at=None,
        timezone="Asia/Tokyo",
        assets=[{"host": "ws-01", "ip": "10.0.0.5", "criticality": "high"}],
        indicators=["loader.evil.example"],
        attack=["T1059.001"],
        actions_taken=["Isolated WS-01"],
        next_update_at=datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
        soc_contact="soc@example.net",
        ack_url=ACK_URL,
    )
    values.update(kw)
    return Notice(**values)


def _deliver(endpoint: Endpoint, kind: str, notice: Notice, language: str = "en") -> webhook.DeliveryResult:
    return chat.deliver(
        kind=kind,
        url=endpoint.url,
        notice=notice,
        language=language,
        message_id="msg_e1_0_1_c1",
        allow_private=True,
        timeout=2,
    )


def _mrkdwn_texts(payload: dict) -> list[str]:
    """Every string Slack parses as mrkdwn: the fallback and each mrkdwn text object."""
    texts = [payload["text"]]

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload["blocks"])
    return texts


@pytest.mark.parametrize(
    "language, labels",
    [
        ("ja", ["重要度", "優先度", "検知日時", "影響を受ける資産", "次回報告予定", "受領確認"]),
        ("en", ["Severity", "Priority", "Detected", "Affected assets", "Next update", "Acknowledge"]),
    ],
)
def test_slack_notice_arrives_with_title_tlp_priority_and_ack_link(endpoint, language, labels):
    # given: Slack's answer to a good post
    endpoint.answer(200, b"ok")
    # when
    result = _deliver(endpoint, "slack", _notice(), language)
    # then
    assert result.ok and result.status == 200 and result.error == ""
    assert result.message_id == "msg_e1_0_1_c1"
    (request,) = endpoint.requests
    assert request.path == "/hook"
    assert request.headers["x-mdr-message-id"] == "msg_e1_0_1_c1"
    assert request.headers["content-type"] == "application/json"
    payload = json.loads(request.body)
    header, summary, facts, actions = payload["blocks"]
    assert header["type"] == "header"
    assert "TLP:AMBER" in header["text"]["text"] and "P1" in header["text"]["text"]
    assert "Ransomware staging on WS-01" in summary["text"]["text"]
    assert "Encoded PowerShell downloaded a loader." in summary["text"]["text"]
    fields = "\n".join(f["text"] for f in facts["fields"])
    assert all(label in fields for label in labels[:-1])
    assert "2026-11-22 10:02:03 JST (UTC+0900)" in fields  # detected, in the notice's time zone
    assert "2026-11-22 12:00:00 JST (UTC+0900)" in fields  # next update
    assert "ws-01 10.0.0.5" in fields and "T1059.001" in fields and "ATT&amp;CK" in fields
    (button,) = actions["elements"]
    assert button["url"] == ACK_URL and button["text"]["text"] == labels[-1]
    assert "TLP:AMBER" in payload["text"] and "P1" in payload["text"]
    assert "Ransomware staging on WS-01" in payload["text"] and ACK_URL.replace("&", "&amp;") in payload["text"]


@pytest.mark.parametrize(
    "language, labels",
    [
        ("ja", ["重要度", "優先度", "検知日時", "影響を受ける資産", "次回報告予定", "受領確認"]),
        ("en", ["Severity", "Priority", "Detected", "Affected assets", "Next update", "Acknowledge"]),
    ],
)
def test_teams_notice_arrives_as_an_adaptive_card(endpoint, language, labels):
    # given: what a Workflows trigger answers
    endpoint.answer(202)
    # when
    result = _deliver(endpoint, "teams", _notice(tlp="RED"), language)
    # then
    assert result.ok and result.status == 202 and result.message_id == "msg_e1_0_1_c1"
    (request,) = endpoint.requests
    assert request.headers["x-mdr-message-id"] == "msg_e1_0_1_c1"
    payload = json.loads(request.body)
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    header, title, summary, factset = card["body"]
    assert header["type"] == title["type"] == summary["type"] == "TextBlock"
    assert "TLP:RED" in header["text"] and "P1" in header["text"] and header["color"] == "Attention"
    assert title["text"] == "Ransomware staging on WS-01"
    facts = {fact["title"]: fact["value"] for fact in factset["facts"]}
    assert factset["type"] == "FactSet" and list(facts)[:3] == labels[:3]
    assert facts[labels[0]] == "high" and facts[labels[1]] == "P1"
    assert facts[labels[2]] == "2026-11-22 10:02:03 JST (UTC+0900)"
    assert "ws-01 10.0.0.5" in facts[labels[3]] and facts["ATT&CK"] == "T1059.001"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": labels[-1], "url": ACK_URL}]


@pytest.mark.parametrize("kind", chat.KINDS)
def test_chat_carries_only_the_notice_short_form(endpoint, kind):
    endpoint.answer(200, b"ok")
    _deliver(endpoint, kind, _notice())
    body = endpoint.requests[0].body
    assert b"msg_e1_0_1_c1" not in body  # the message id travels as a header only
    assert b"loader.evil.example" not in body and b"Isolated WS-01" not in body  # left to the e-mail
    assert b"soc@example.net" not in body


def test_slack_escapes_mrkdwn_control_characters_in_user_text(endpoint):
    # given: text that would open a link, ping a channel or inject markup if passed through
    notice = _notice(
        title="<script>alert(1)</script> & <!channel>",
        summary="Beacon to <https://evil.example|our portal> & back",
        assets=[{"host": "<@U0ADMIN>", "user": "a&b"}],
    )
    endpoint.answer(200, b"ok")
    # when
    assert _deliver(endpoint, "slack", notice).ok
    # then: no raw <, > and every & starts one of the three entities, in what Slack parses as mrkdwn
    payload = json.loads(endpoint.requests[0].body)
    texts = _mrkdwn_texts(payload)
    assert len(texts) >= 5
    for text in texts:
        assert "<" not in text and ">" not in text, text
        assert "&" not in re.sub(r"&(amp|lt|gt);", "", text), text
    section = payload["blocks"][1]["text"]["text"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;" in section
    assert "&lt;https://evil.example|our portal&gt; &amp; back" in section
    assert payload["blocks"][-1]["elements"][0]["url"] == ACK_URL  # a URL field, not mrkdwn: left as is
    # Teams cards are not mrkdwn: the same title arrives as written
    assert chat.teams_payload(notice, "en")["attachments"][0]["content"]["body"][1]["text"] == notice.title


def test_slack_text_is_cut_to_slacks_limits_without_splitting_an_entity():
    notice = _notice(summary="a&" * 5000, assets=[{"host": f"h{i}", "criticality": "low"} for i in range(500)])
    payload = chat.slack_payload(notice, "en")
    section = payload["blocks"][1]["text"]["text"]
    assert len(section) <= 3000 and section.endswith("…")
    assert "&" not in re.sub(r"&(amp|lt|gt);", "", section)
    assert all(len(field["text"]) <= 2000 for field in payload["blocks"][2]["fields"])
    assert len(payload["blocks"][2]["fields"]) <= 10
    assert len(payload["blocks"][0]["text"]["text"]) <= 150


def test_without_an_ack_url_there_is_no_button_or_action():
    notice = _notice(ack_url="")
    assert [b["type"] for b in chat.slack_payload(notice, "ja")["blocks"]] == ["header", "section", "section"]
    assert "actions" not in chat.teams_payload(notice, "ja")["attachments"][0]["content"]


@pytest.mark.parametrize("kind", chat.KINDS)
def test_a_failing_receiver_gives_a_failed_result_with_the_status(endpoint, kind):
    endpoint.answer(500, b"internal_error")
    result = _deliver(endpoint, kind, _notice())
    assert not result.ok and result.status == 500
    assert result.error == "HTTP 500: internal_error" and result.message_id == "msg_e1_0_1_c1"
    assert len(endpoint.requests) == 1


def test_slack_200_without_ok_is_not_a_delivery(endpoint):
    endpoint.answer(200, b"<html>captive portal</html>")
    result = _deliver(endpoint, "slack", _notice())
    assert not result.ok and result.status == 200 and "without 'ok'" in result.error


def test_an_unreachable_target_is_a_failed_delivery_not_an_exception(endpoint):
    endpoint.close()
    result = _deliver(endpoint, "teams", _notice())
    assert not result.ok and result.status is None and result.error


@pytest.mark.parametrize(
    "url, allow_private",
    [
        ("http://127.0.0.1:{port}/hook", False),  # plain http to loopback
        ("https://127.0.0.1:{port}/hook", False),  # loopback
        ("https://localhost:{port}/hook", False),
        ("https://169.254.169.254/latest/meta-data", False),  # link-local (cloud metadata)
        ("https://[::1]:{port}/hook", False),
        ("file:///etc/passwd", True),  # never a file, even where private targets are allowed
        ("ftp://127.0.0.1:{port}/hook", True),
    ],
)
@pytest.mark.parametrize("kind", chat.KINDS)
def test_a_refused_target_raises_before_any_connection(endpoint, monkeypatch, kind, url, allow_private):
    # given: any attempt to connect fails the test
    def no_connection(*args, **kwargs):
        raise AssertionError("connected to a refused target")

    monkeypatch.setattr(socket.socket, "connect", no_connection)
    # when / then
    with pytest.raises(webhook.WebhookTargetRefused):
        chat.deliver(
            kind=kind,
            url=url.format(port=endpoint.port),
            notice=_notice(),
            language="en",
            message_id="m",
            allow_private=allow_private,
        )
    assert endpoint.requests == []


def test_an_unknown_chat_kind_is_refused_before_any_connection(endpoint):
    with pytest.raises(ValueError, match="chat kind"):
        chat.deliver(
            kind="discord", url=endpoint.url, notice=_notice(), language="en", message_id="m", allow_private=True
        )
    assert endpoint.requests == []
