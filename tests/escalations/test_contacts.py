"""Contact services: validation naming the field, verification reset on a new address, archive guarded by the
matrix, webhook secret rotation with an overlap, expiry reminders through a real SMTP server with an injected clock,
and the provider/customer contact APIs."""

import email
from datetime import date, datetime, time, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.escalations import services, webhook
from mdr.escalations.contacts import (
    contact_archive,
    contact_create,
    contact_expiry_due,
    contact_update,
    contact_webhook_secret_rotate,
)
from mdr.escalations.models import Contact
from mdr.jobs.models import DueWork
from tenants.models import Customer
from tests.conftest import login
from tests.factories import ApiKeyFactory, UserFactory
from tests.live import free_port
from tests.mail import Inbox

ACTOR = Actor(type="provider_staff", name="padmin#1")
TOKYO = ZoneInfo("Asia/Tokyo")  # acme's time zone (onboarding default)
KIND = "contact_expiry_task"


def _today() -> date:
    return timezone.now().astimezone(TOKYO).date()


def _provider_client(username: str) -> Client:
    UserFactory(username=username, role=Role.PROVIDER_ADMIN)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, username, "correct horse battery staple")
    return client


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "a@acme.example"}, "name"),
        ({"name": "   ", "email": "a@acme.example"}, "name"),
        ({"name": "Lead"}, "email"),  # no way to reach the contact
        ({"name": "Lead", "email": "not an address"}, "email"),
        ({"name": "Lead", "email": "a@acme.example", "language": "fr"}, "language"),
        ({"name": "Lead", "webhook_url": "ftp://hooks.acme.example/x"}, "webhook_url"),
        ({"name": "Lead", "slack_webhook_url": "http://hooks.slack.com/services/T/B/x"}, "slack_webhook_url"),
        ({"name": "Lead", "email": "a@acme.example", "valid_until": "2001-01-01"}, "valid_until"),
        ({"name": "Lead", "email": "a@acme.example", "valid_until": "next week"}, "valid_until"),
        ({"name": "Lead", "email": "a@acme.example", "webhook_secret": "whsec_AAAA"}, "webhook_secret"),
        ({"name": "Lead", "email": "a@acme.example", "verified_at": "2030-01-01T00:00:00Z"}, "verified_at"),
        ({"name": "Lead", "email": "a@acme.example", "phone": "0" * 51}, "phone"),
    ],
)
def test_create_refuses_invalid_contacts_naming_the_field(acme, data, field):
    with schema_context("acme"):
        # when
        with pytest.raises(services.EscalationError) as err:
            contact_create(actor=ACTOR, data=data)
        # then
        assert err.value.field == field
        assert not Contact.objects.exists()
        assert not AuditEvent.objects.filter(action="escalation.contact.create").exists()


def test_create_with_a_webhook_returns_its_secret_once_and_audits_without_it(acme):
    with schema_context("acme"):
        # when
        contact, secret = contact_create(
            actor=ACTOR,
            data={
                "name": " Duty desk ",
                "webhook_url": "https://hooks.acme.example/mdr",
                "slack_webhook_url": "https://hooks.slack.com/services/T0/B0/sEcReT",
                "language": "en",
            },
        )
        plain, none = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        # then
        assert secret.startswith("whsec_") and Contact.objects.get(pk=contact.pk).webhook_secret == secret
        assert contact.name == "Duty desk" and none is None and plain.language == "ja"
        audit = AuditEvent.objects.get(action="escalation.contact.create", target_id=str(contact.pk))
        assert audit.actor == "padmin#1"
        assert secret not in str(audit.data) and "sEcReT" not in str(audit.data)
        assert audit.data["fields"]["slack_webhook_url"] == "(set)"


def test_a_new_email_address_must_be_verified_again(acme):
    with schema_context("acme"):
        # given: a verified contact
        contact, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        Contact.objects.filter(pk=contact.pk).update(verified_at=timezone.now())
        # when: another field changes
        contact = contact_update(actor=ACTOR, contact=contact, data={"phone": "+81 3 0000 0000"})
        # then: still verified
        assert contact.verified_at is not None
        # when: the address changes
        contact = contact_update(actor=ACTOR, contact=contact, data={"email": "csirt@acme.example"})
        # then
        contact.refresh_from_db()
        assert (contact.email, contact.verified_at) == ("csirt@acme.example", None)
        audit = AuditEvent.objects.filter(action="escalation.contact.update").order_by("-id").first()
        assert audit.data["changes"] == {"email": "csirt@acme.example"} and audit.data["verification_reset"] is True


def test_update_validates_against_the_whole_contact(acme):
    with schema_context("acme"):
        # given
        contact, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        # when / then: removing the only way to reach it
        with pytest.raises(services.EscalationError) as err:
            contact_update(actor=ACTOR, contact=contact, data={"email": ""})
        assert err.value.field == "email"
        # when / then: a webhook first, then the e-mail can go; adding a webhook generated its secret
        contact = contact_update(actor=ACTOR, contact=contact, data={"webhook_url": "https://hooks.acme.example/x"})
        assert contact.webhook_secret.startswith("whsec_")
        contact = contact_update(actor=ACTOR, contact=contact, data={"email": ""})
        assert contact.email == ""
        # when / then: a date already past may be sent back unchanged, but not set anew
        Contact.objects.filter(pk=contact.pk).update(valid_until=date(2020, 1, 31))
        contact = contact_update(
            actor=ACTOR, contact=contact, data={"valid_until": "2020-01-31", "phone": "+81 3 0000 0000"}
        )
        assert contact.phone == "+81 3 0000 0000"
        with pytest.raises(services.EscalationError) as err:
            contact_update(actor=ACTOR, contact=contact, data={"valid_until": "2020-02-01"})
        assert err.value.field == "valid_until"


def test_archive_refuses_the_only_contact_of_a_level_then_works(acme):
    with schema_context("acme"):
        # given: the lead alone on level 1 of rule 0
        lead, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        duty, _ = contact_create(actor=ACTOR, data={"name": "Duty", "email": "duty@acme.example"})
        rules = [
            {
                "min_priority": "P2",
                "levels": [
                    {"contacts": [duty.pk], "channels": ["email"], "wait_minutes": 15},
                    {"contacts": [lead.pk], "channels": ["email"], "wait_minutes": 15},
                ],
            }
        ]
        matrix = services.matrix_publish(actor=ACTOR, rules=rules)
        # when / then
        with pytest.raises(services.EscalationError) as err:
            contact_archive(actor=ACTOR, contact=lead)
        assert err.value.field == "contact"
        assert "rules[0].levels[1]" in err.value.message and f"v{matrix.version}" in err.value.message
        assert Contact.objects.get(pk=lead.pk).archived_at is None
        # when: a new version no longer depends on the lead alone
        rules[0]["levels"][1]["contacts"] = [lead.pk, duty.pk]
        services.matrix_publish(actor=ACTOR, rules=rules)
        archived = contact_archive(actor=ACTOR, contact=lead)
        # then
        assert archived.archived_at is not None
        assert AuditEvent.objects.filter(action="escalation.contact.archive", target_id=str(lead.pk)).exists()
        with pytest.raises(services.EscalationError, match="archived"):
            contact_update(actor=ACTOR, contact=archived, data={"phone": "1"})
        with pytest.raises(services.EscalationError, match="already archived"):
            contact_archive(actor=ACTOR, contact=archived)
        # and duty is now the only active contact of both levels
        with pytest.raises(services.EscalationError, match="only contact"):
            contact_archive(actor=ACTOR, contact=duty)


def test_rotation_keeps_the_previous_secret_until_the_overlap_ends(acme):
    with schema_context("acme"):
        # given
        contact, old = contact_create(
            actor=ACTOR, data={"name": "Duty", "webhook_url": "https://hooks.acme.example/mdr"}
        )
        t0 = timezone.now()
        # when
        new = contact_webhook_secret_rotate(actor=ACTOR, contact=contact, overlap_hours=24, now=t0)
        # then: the delivery code signs with both during the overlap, so a receiver still on the old secret
        # verifies ...
        contact.refresh_from_db()
        assert new != old and contact.webhook_secret == new and contact.webhook_secret_previous == old
        assert contact.webhook_secret_previous_until == t0 + timedelta(hours=24)
        during = services._signing_secrets(contact, t0 + timedelta(hours=23))
        assert during == [new, old]
        ts = int(t0.timestamp())
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(ts),
            "webhook-signature": webhook.sign(message_id="msg_1", timestamp=ts, body=b"{}", secrets_=during),
        }
        assert webhook.verify(headers=headers, body=b"{}", secret=old, now=ts)
        assert webhook.verify(headers=headers, body=b"{}", secret=new, now=ts)
        # ... and only the new one after it
        assert services._signing_secrets(contact, t0 + timedelta(hours=24)) == [new]
        audit = AuditEvent.objects.get(action="escalation.contact.webhook_secret_rotate")
        assert old not in str(audit.data) and new not in str(audit.data)
        # a contact without a webhook has nothing to rotate; the overlap is bounded
        plain, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        with pytest.raises(services.EscalationError) as err:
            contact_webhook_secret_rotate(actor=ACTOR, contact=plain)
        assert err.value.field == "webhook_url"
        with pytest.raises(services.EscalationError) as err:
            contact_webhook_secret_rotate(actor=ACTOR, contact=contact, overlap_hours=24 * 30)
        assert err.value.field == "overlap_hours"


def test_no_pgp_key_means_no_fingerprint(acme):
    with schema_context("acme"):
        contact, _ = contact_create(
            actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example", "pgp_public_key": ""}
        )
        assert (contact.pgp_public_key, contact.pgp_fingerprint) == ("", "")


def test_a_garbage_pgp_key_is_refused_on_its_field(acme):
    pytest.importorskip("mdr.escalations.pgp")
    with schema_context("acme"), pytest.raises(services.EscalationError) as err:
        contact_create(
            actor=ACTOR,
            data={"name": "Lead", "email": "lead@acme.example", "pgp_public_key": "-----BEGIN nonsense-----"},
        )
    assert err.value.field == "pgp_public_key" and err.value.message


# --- expiry reminders ---------------------------------------------------------------------------------------------


def _threshold(valid_until: date, days: int) -> datetime:
    return datetime.combine(valid_until - timedelta(days=days), time(9, 0), tzinfo=TOKYO)


def _subjects(inbox: Inbox, start: int = 0) -> dict[str, str]:
    """recipient -> decoded subject of the messages received since ``start``."""
    out = {}
    for rcpt, raw in inbox.messages[start:]:
        message = email.message_from_bytes(raw, policy=policy.default)
        out[rcpt[0]] = str(message["Subject"])
    return out


@pytest.fixture
def admins(acme):
    with schema_context("acme"):
        UserFactory(username="adm-ja", email="adm-ja@acme.example", role=Role.CUSTOMER_ADMIN, language="ja")
        UserFactory(username="adm-en", email="adm-en@acme.example", role=Role.CUSTOMER_ADMIN, language="en")
        UserFactory(username="gone", email="gone@acme.example", role=Role.CUSTOMER_ADMIN, is_active=False)
        UserFactory(username="look", email="look@acme.example", role=Role.VIEWER)
    return {"adm-ja@acme.example", "adm-en@acme.example"}


def test_expiry_reminders_30_then_7_then_0_days_each_once(acme, admins, mail_server):
    with schema_context("acme"):
        # given: a contact valid for 40 more days
        valid_until = _today() + timedelta(days=40)
        contact, _ = contact_create(
            actor=ACTOR, data={"name": "Night desk", "email": "desk@acme.example", "valid_until": valid_until}
        )
        due = DueWork.objects.get(schema_name="acme", kind=KIND, ref=str(contact.pk))
        assert due.due_at == _threshold(valid_until, 30)  # 09:00 in the customer's time zone
        # when: called a minute early (e.g. clock skew)
        assert contact_expiry_due(contact_ids=[str(contact.pk)], now=due.due_at - timedelta(minutes=1)) == 0
        assert mail_server.messages == []
        # when: the 30-day threshold is reached
        assert contact_expiry_due(contact_ids=[str(contact.pk)], now=due.due_at) == 1
        # then: every active customer admin with an address, in their language
        subjects = _subjects(mail_server)
        assert set(subjects) == admins
        assert "Night desk" in subjects["adm-en@acme.example"]
        assert "expires in 30 days" in subjects["adm-en@acme.example"]
        assert "あと30日" in subjects["adm-ja@acme.example"]
        body = (
            email.message_from_bytes(mail_server.messages[0][1], policy=policy.default)
            .get_body(("plain",))
            .get_content()
        )
        assert str(valid_until) in body and "acme.mdr.test" in body
        # when: the message is redelivered
        assert contact_expiry_due(contact_ids=[str(contact.pk)], now=due.due_at + timedelta(minutes=5)) == 0
        # then: nothing more is sent, and the due work waits for the 7-day threshold
        assert len(mail_server.messages) == 2
        due = DueWork.objects.get(schema_name="acme", kind=KIND, ref=str(contact.pk))
        assert due.due_at == _threshold(valid_until, 7)
        # when: 7 days before
        assert contact_expiry_due(contact_ids=[str(contact.pk)], now=due.due_at) == 1
        assert "expires in 7 days" in _subjects(mail_server, 2)["adm-en@acme.example"]
        assert DueWork.objects.get(schema_name="acme", kind=KIND, ref=str(contact.pk)).due_at == _threshold(
            valid_until, 0
        )
        # when: the last day
        assert contact_expiry_due(contact_ids=[contact.pk], now=_threshold(valid_until, 0)) == 1
        last = _subjects(mail_server, 4)
        assert "expires today" in last["adm-en@acme.example"] and "本日" in last["adm-ja@acme.example"]
        # then: nothing left to schedule
        assert not DueWork.objects.filter(schema_name="acme", kind=KIND, ref=str(contact.pk)).exists()
        assert Contact.objects.get(pk=contact.pk).expiry_reminded_days == 0
        audit = AuditEvent.objects.filter(action="escalation.contact.expiry_reminded").order_by("id")
        assert [a.data["days_before"] for a in audit] == [30, 7, 0]
        assert all(a.data["recipients"] == 2 for a in audit)


def test_a_contact_created_late_gets_one_reminder_not_every_missed_one(acme, admins, mail_server):
    with schema_context("acme"):
        # given: only 3 days left, so the 30- and 7-day thresholds have passed
        valid_until = _today() + timedelta(days=3)
        contact, _ = contact_create(
            actor=ACTOR, data={"name": "Temp", "email": "temp@acme.example", "valid_until": valid_until}
        )
        due = DueWork.objects.get(schema_name="acme", kind=KIND, ref=str(contact.pk))
        assert due.due_at <= timezone.now()  # due at once
        # when
        assert contact_expiry_due(contact_ids=[contact.pk]) == 1
        # then: one e-mail per admin, for the 7-day threshold, saying how many days are really left
        assert len(mail_server.messages) == 2
        assert "expires in 3 days" in _subjects(mail_server)["adm-en@acme.example"]
        assert Contact.objects.get(pk=contact.pk).expiry_reminded_days == 7
        assert DueWork.objects.get(schema_name="acme", kind=KIND, ref=str(contact.pk)).due_at == _threshold(
            valid_until, 0
        )


def test_a_refused_mail_is_retried_later_without_recording_the_reminder(acme, admins, settings):
    # given: nothing listens on the mail port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    with schema_context("acme"):
        valid_until = _today() + timedelta(days=40)
        contact, _ = contact_create(
            actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example", "valid_until": valid_until}
        )
        now = _threshold(valid_until, 30)
        # when
        assert contact_expiry_due(contact_ids=[contact.pk], now=now) == 0
        # then
        assert Contact.objects.get(pk=contact.pk).expiry_reminded_days is None
        assert DueWork.objects.get(kind=KIND, ref=str(contact.pk)).due_at == now + timedelta(hours=1)
        assert not AuditEvent.objects.filter(action="escalation.contact.expiry_reminded").exists()


def test_expiry_due_work_follows_the_contact(acme):
    with schema_context("acme"):
        # given
        contact, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        assert not DueWork.objects.filter(kind=KIND, ref=str(contact.pk)).exists()  # open-ended: nothing to do
        # when: a validity is set
        first = _today() + timedelta(days=90)
        contact = contact_update(actor=ACTOR, contact=contact, data={"valid_until": first})
        assert DueWork.objects.get(schema_name="acme", kind=KIND, ref=str(contact.pk)).due_at == _threshold(first, 30)
        # when: a reminder was sent and the validity is then extended, the reminders start again
        Contact.objects.filter(pk=contact.pk).update(expiry_reminded_days=30)
        later = first + timedelta(days=365)
        contact = contact_update(actor=ACTOR, contact=Contact.objects.get(pk=contact.pk), data={"valid_until": later})
        assert contact.expiry_reminded_days is None
        assert DueWork.objects.get(schema_name="acme", kind=KIND, ref=str(contact.pk)).due_at == _threshold(later, 30)
        # when: archived
        contact_archive(actor=ACTOR, contact=contact)
        # then
        assert not DueWork.objects.filter(kind=KIND, ref=str(contact.pk)).exists()
        assert contact_expiry_due(contact_ids=[contact.pk], now=_threshold(later, 0)) == 0


def test_reminder_thresholds_come_from_settings(acme, settings):
    settings.MDR_CONTACT_EXPIRY_REMINDER_DAYS = [14, 1]
    with schema_context("acme"):
        valid_until = _today() + timedelta(days=60)
        contact, _ = contact_create(
            actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example", "valid_until": valid_until.isoformat()}
        )
        assert DueWork.objects.get(kind=KIND, ref=str(contact.pk)).due_at == _threshold(valid_until, 14)


# --- HTTP ---------------------------------------------------------------------------------------------------------


def test_provider_changes_archives_and_rotates_over_http(acme):
    # given
    client = _provider_client("pa-contacts")
    base = "/api/provider/customers/acme/contacts"
    created = client.post(
        base,
        {"name": "Duty", "email": "duty@acme.example", "webhook_url": "https://hooks.acme.example/mdr"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    contact_id, secret = created.json()["id"], created.json()["webhook_secret"]
    # when: an invalid change
    bad = client.patch(f"{base}/{contact_id}", {"language": "de"}, content_type="application/json")
    # then
    assert bad.status_code == 400 and bad.json() == {"language": ["ja or en"]}
    # when: a valid change
    changed = client.patch(f"{base}/{contact_id}", {"role": "24/7 desk"}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["role"] == "24/7 desk"
    assert "webhook_secret" not in changed.json()  # unchanged secret: never shown again
    # when: rotating
    rotated = client.post(f"{base}/{contact_id}/rotate-secret", {"overlap_hours": 2}, content_type="application/json")
    assert rotated.status_code == 200
    assert rotated.json()["webhook_secret"].startswith("whsec_") and rotated.json()["webhook_secret"] != secret
    assert rotated.json()["previous_valid_until"]
    listed = client.get(base).json()
    assert [c["id"] for c in listed] == [contact_id]
    assert not {"webhook_secret", "webhook_secret_previous", "pgp_public_key"} & set(listed[0])
    # when: archiving (no matrix depends on it)
    archived = client.post(f"{base}/{contact_id}/archive")
    assert archived.status_code == 200 and archived.json()["archived_at"]
    assert client.get(base).json() == [] and len(client.get(f"{base}?archived=1").json()) == 1
    # unknown ids
    assert client.patch(f"{base}/999999", {"role": "x"}, content_type="application/json").status_code == 404
    assert client.post(f"{base}/999999/archive").status_code == 404
    assert client.post(f"{base}/999999/rotate-secret").status_code == 404


def test_analysts_cannot_write_contacts(acme):
    UserFactory(username="an-contacts", role=Role.ANALYST)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "an-contacts", "correct horse battery staple")
    response = client.post(
        "/api/provider/customers/acme/contacts",
        {"name": "X", "email": "x@acme.example"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert client.get("/api/provider/customers/acme/contacts").status_code == 200


def test_customer_lists_contacts_with_days_to_expiry_and_no_secrets(acme):
    # given
    with schema_context("acme"):
        soon, _ = contact_create(
            actor=ACTOR,
            data={
                "name": "Soon",
                "email": "soon@acme.example",
                "webhook_url": "https://hooks.acme.example/mdr",
                "teams_webhook_url": "https://acme.webhook.office.com/webhookb2/xyz",
                "valid_until": _today() + timedelta(days=12),
            },
        )
        gone, _ = contact_create(actor=ACTOR, data={"name": "Gone", "email": "gone@acme.example"})
        contact_archive(actor=ACTOR, contact=gone)
        UserFactory(username="viewer-c", role=Role.VIEWER)
    key = ApiKeyFactory(customer=Customer.objects.get(slug="acme"), scopes=["read"]).plaintext
    viewer = acme.client()
    login(viewer, "viewer-c", "correct horse battery staple")
    # when
    by_viewer = viewer.get("/api/v1/contacts")
    by_key = acme.client().get("/api/v1/contacts", HTTP_AUTHORIZATION=f"Bearer {key}")
    # then
    assert by_viewer.status_code == 200 and by_key.status_code == 200
    assert by_viewer.json() == by_key.json()
    (row,) = by_viewer.json()
    assert row["id"] == soon.pk and row["days_to_expiry"] == 12 and row["verified_at"] is None
    assert row["channels"] == ["email", "webhook", "teams"]
    assert "xyz" not in by_viewer.content.decode() and "whsec_" not in by_viewer.content.decode()
    # an ingest-only key cannot read contacts
    assert acme.client().get("/api/v1/contacts", HTTP_AUTHORIZATION=f"Bearer {acme.api_key}").status_code == 403


def test_customer_contact_list_queries_do_not_grow_with_contacts(acme):
    key = ApiKeyFactory(customer=Customer.objects.get(slug="acme"), scopes=["read"]).plaintext
    client = acme.client()

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/contacts", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
        return len(queries)

    with schema_context("acme"):
        contact_create(actor=ACTOR, data={"name": "One", "email": "one@acme.example"})
    count()  # the first use of a key also records last_used_at
    one = count()
    with schema_context("acme"):
        for i in range(5):
            contact_create(actor=ACTOR, data={"name": f"More {i}", "email": f"m{i}@acme.example"})
    assert count() == one
