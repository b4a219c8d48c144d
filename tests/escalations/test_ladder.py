"""The escalation ladder with an injected clock, a real SMTP server and a real webhook receiver; acknowledgement
by one-time link (once, not after expiry, not tampered)."""

import email
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.escalations import services, webhook
from mdr.escalations.models import Contact, Delivery
from mdr.incidents.models import Incident
from mdr.jobs.models import DueWork
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import SlaTimer
from mdr.sla.services import timer_start
from tests.escalations.test_webhook import Receiver

ACTOR = Actor(type="provider_staff", name="analyst#7")
# Relative to the real clock: the link view checks expiry against now, so a fixed date would expire with time.
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)


@pytest.fixture
def ladder(acme, mail_server, settings):
    settings.MDR_WEBHOOK_ALLOW_PRIVATE = True
    secret = webhook.secret_generate()
    receiver = Receiver(secret)
    with schema_context("acme"):
        lead = Contact.objects.create(name="CSIRT lead", email="lead@acme.example", language="ja")
        duty = Contact.objects.create(
            name="24/7 duty", email="duty@acme.example", language="en", webhook_url=receiver.url, webhook_secret=secret
        )
        matrix = services.matrix_publish(
            actor=ACTOR,
            rules=[
                {
                    "min_priority": "P2",
                    "repeat": 1,
                    "levels": [
                        {"contacts": [lead.pk], "channels": ["email"], "wait_minutes": 15},
                        {"contacts": [duty.pk], "channels": ["email", "webhook"], "wait_minutes": 10},
                    ],
                },
            ],
        )
        incident = Incident.objects.create(title="Ransomware on WS-01", severity_id=5, priority="P1")
        notify = timer_start(
            subject_type="incident",
            subject_id=str(incident.pk),
            metric="notify",
            priority="P1",
            goal_seconds=1800,
            calendar=BusinessCalendar.always(timezone="UTC"),
            at=T0,
        )
    yield {"incident": incident, "matrix": matrix, "receiver": receiver, "inbox": mail_server, "notify": notify}
    receiver.close()


def deliver_due(now: datetime) -> list[str]:
    """What the notifications workers do: one attempt of every pending delivery that is due at ``now``."""
    from mdr.escalations.models import DeliveryState

    return [
        services.delivery_attempt(delivery_id=pk, now=now)
        for pk in Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]


def _ack_link(raw: bytes) -> str:
    text = email.message_from_bytes(raw, policy=policy.default).get_body(preferencelist=("plain",)).get_content()
    line = next(line for line in text.splitlines() if "/ack/" in line)
    assert "http://acme.mdr.test:8000/ack/" in line  # absolute, on the customer's own domain
    return line.split("/ack/", 1)[1].strip()


def test_level_two_only_after_level_ones_wait_then_repeat_then_unreachable(ladder):
    with schema_context("acme"):
        escalation = services.escalation_start(incident=ladder["incident"], actor=ACTOR, now=T0)
        assert ladder["inbox"].messages == []  # nothing is sent inside the escalating transaction
        assert deliver_due(T0) == ["sent"]
        # level 0: the lead by e-mail, received by the real SMTP server; the notify clock is met by the receipt
        assert [rcpt for rcpt, _ in ladder["inbox"].messages] == [["lead@acme.example"]]
        assert SlaTimer.objects.get(pk=ladder["notify"].pk).state == "met"
        due = DueWork.objects.get(schema_name="acme", ref=str(escalation.pk))
        assert due.due_at == T0 + timedelta(minutes=15)
        # the wait passes: level 1, e-mail and signed webhook
        assert services.escalation_step(escalation_id=escalation.pk, now=T0 + timedelta(minutes=15)) == "next_level"
        assert deliver_due(T0 + timedelta(minutes=15)) == ["sent", "sent"]
        assert ladder["inbox"].messages[-1][0] == ["duty@acme.example"]
        assert len(ladder["receiver"].accepted) == 1 and ladder["receiver"].rejected == 0
        # repeat once (level 0, 1 again), then unreachable
        assert services.escalation_step(escalation_id=escalation.pk, now=T0 + timedelta(minutes=25)) == "next_level"
        deliver_due(T0 + timedelta(minutes=25))
        assert services.escalation_step(escalation_id=escalation.pk, now=T0 + timedelta(minutes=40)) == "next_level"
        deliver_due(T0 + timedelta(minutes=40))
        assert services.escalation_step(escalation_id=escalation.pk, now=T0 + timedelta(minutes=50)) == "unreachable"
        assert ladder["incident"].timeline.filter(kind="customer_unreachable").exists()
        ladder["incident"].refresh_from_db()
        assert ladder["incident"].customer_unreachable_at == T0 + timedelta(minutes=50)
        assert [(d.level, d.cycle, d.sequence, d.channel, d.state) for d in Delivery.objects.order_by("id")] == [
            (0, 0, 1, "email", "sent"),
            (1, 0, 2, "email", "sent"),
            (1, 0, 2, "webhook", "sent"),
            (0, 1, 3, "email", "sent"),
            (1, 1, 4, "email", "sent"),
            (1, 1, 4, "webhook", "sent"),
        ]
        assert services.escalation_step(escalation_id=escalation.pk, now=T0 + timedelta(hours=2)) == "stopped"


def test_acknowledgement_by_link_stops_the_ladder_once(ladder, acme):
    with schema_context("acme"):
        escalation = services.escalation_start(incident=ladder["incident"], actor=ACTOR, now=T0)
        deliver_due(T0)
    token = _ack_link(ladder["inbox"].messages[0][1])
    client = acme.client()
    page = client.get(f"/ack/{token}")
    assert page.status_code == 200 and "Acknowledge" in page.content.decode()  # GET never acknowledges
    assert "Ransomware on WS-01" in page.content.decode() and "CSIRT lead" in page.content.decode()  # the summary
    done = client.post(f"/ack/{token}")
    assert done.status_code == 200 and "ack-done" in done.content.decode()
    again = client.post(f"/ack/{token}")
    assert again.status_code == 410 and "already used" in again.content.decode()
    assert client.get(f"/ack/{token}").status_code == 410
    tampered = client.post(f"/ack/{token[:-2]}xx")
    assert tampered.status_code == 410
    with schema_context("acme"):
        escalation.refresh_from_db()
        assert (escalation.state, escalation.acknowledged_by, escalation.ack_channel) == (
            "acknowledged",
            "CSIRT lead",
            "link",
        )
        assert not DueWork.objects.filter(schema_name="acme", ref=str(escalation.pk)).exists()
        assert services.escalation_step(escalation_id=escalation.pk, now=T0 + timedelta(minutes=15)) == "stopped"
        assert ladder["incident"].timeline.get(kind="customer_acknowledged").visibility == "customer"


def test_expired_link_is_refused(ladder):
    with schema_context("acme"):
        services.escalation_start(incident=ladder["incident"], actor=ACTOR, now=T0 - timedelta(days=10))
        deliver_due(T0 - timedelta(days=10))
        token = _ack_link(ladder["inbox"].messages[0][1])
        with pytest.raises(services.EscalationError, match="expired"):
            services.escalation_acknowledge_token(token=token, ip="127.0.0.1")


def test_the_matrix_version_in_force_is_kept_and_validated(ladder):
    with schema_context("acme"):
        escalation = services.escalation_start(incident=ladder["incident"], actor=ACTOR, now=T0)
        contact = Contact.objects.first()
        newer = services.matrix_publish(
            actor=ACTOR,
            rules=[
                {"min_priority": "P1", "levels": [{"contacts": [contact.pk], "channels": ["email"], "wait_minutes": 5}]}
            ],
        )
        escalation.refresh_from_db()
        assert escalation.matrix_id == ladder["matrix"].pk and newer.version == ladder["matrix"].version + 1
        with pytest.raises(services.EscalationError) as err:
            services.matrix_publish(
                actor=ACTOR,
                rules=[
                    {
                        "min_priority": "P1",
                        "levels": [{"contacts": [contact.pk], "channels": ["pigeon"], "wait_minutes": 5}],
                    }
                ],
            )
        assert err.value.field == "rules[0].levels[0].channels"
        with pytest.raises(services.EscalationError):
            services.escalation_start(incident=ladder["incident"], actor=ACTOR, now=T0)  # one running at a time


def test_analyst_escalates_over_the_api(ladder):
    from django.conf import settings
    from django.test import Client

    from mdr.accounts.models import Role
    from tests.conftest import login
    from tests.factories import UserFactory

    UserFactory(username="an3", role=Role.ANALYST)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "an3", "correct horse battery staple")
    response = client.post(f"/api/provider/customers/acme/incidents/{ladder['incident'].pk}/escalate")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "escalated"
    with schema_context("acme"):
        assert deliver_due(datetime.now(UTC)) == ["sent"]
    assert [rcpt for rcpt, _ in ladder["inbox"].messages] == [["lead@acme.example"]]
    again = client.post(f"/api/provider/customers/acme/incidents/{ladder['incident'].pk}/escalate")
    assert again.status_code == 400 and "incident" in again.json()


def test_customer_acknowledges_by_api_and_viewers_cannot(ladder, acme):
    from mdr.accounts.models import Role
    from tests.conftest import login
    from tests.factories import UserFactory

    with schema_context("acme"):
        escalation = services.escalation_start(incident=ladder["incident"], actor=ACTOR, now=T0)
        UserFactory(username="viewer5", role=Role.VIEWER)
        UserFactory(username="csirt5", role=Role.CSIRT)
    url = f"/api/v1/incidents/{ladder['incident'].pk}/acknowledge"
    viewer, csirt = acme.client(), acme.client()
    login(viewer, "viewer5", "correct horse battery staple")
    login(csirt, "csirt5", "correct horse battery staple")
    assert viewer.post(url).status_code == 403
    done = csirt.post(url)
    assert done.status_code == 200
    assert any(e["kind"] == "customer_acknowledged" for e in done.json()["timeline"])
    assert csirt.post(url).status_code == 400  # already acknowledged
    with schema_context("acme"):
        escalation.refresh_from_db()
        assert (escalation.state, escalation.acknowledged_by, escalation.ack_channel) == (
            "acknowledged",
            "csirt5",
            "api",
        )


def test_fire_drill_goes_through_the_real_path(ladder):
    import json
    from io import StringIO

    from django.core.management import call_command

    from mdr.escalations.models import Escalation

    out = StringIO()
    call_command("fire_drill", "acme", "--auto-ack", "--inline", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] is True
    assert [s[0] for s in report["steps"]] == [
        "ingest",
        "processing",
        "incident",
        "escalation",
        "delivery",
        "acknowledgement",
    ]
    assert all(ms >= 0 for _, ms, _ in report["steps"])
    ((_rcpt, raw),) = ladder["inbox"].messages
    assert "FIRE DRILL" in email.message_from_bytes(raw, policy=policy.default)["Subject"]
    with schema_context("acme"):
        assert Escalation.objects.get().state == "acknowledged"


def test_provider_sets_contacts_and_matrix_over_http(acme):
    from django.conf import settings
    from django.test import Client

    from mdr.accounts.models import Role
    from tests.conftest import login
    from tests.factories import UserFactory

    UserFactory(username="pa3", role=Role.PROVIDER_ADMIN)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "pa3", "correct horse battery staple")
    base = "/api/provider/customers/acme"
    created = client.post(
        f"{base}/contacts",
        {
            "name": "Lead",
            "email": "lead@acme.example",
            "language": "en",
            "webhook_url": "https://hooks.acme.example/mdr",
        },
        content_type="application/json",
    )
    assert created.status_code == 201 and created.json()["webhook_secret"].startswith("whsec_")
    assert "webhook_secret" not in client.get(f"{base}/contacts").json()[0]  # shown once only
    bad = client.post(
        f"{base}/escalation-matrix", {"rules": [{"min_priority": "P1", "levels": []}]}, content_type="application/json"
    )
    assert bad.status_code == 400 and "rules[0].levels" in bad.json()
    rules = [
        {
            "min_priority": "P2",
            "levels": [{"contacts": [created.json()["id"]], "channels": ["email"], "wait_minutes": 15}],
        }
    ]
    ok = client.post(f"{base}/escalation-matrix", {"rules": rules}, content_type="application/json")
    assert ok.status_code == 201 and client.get(f"{base}/escalation-matrix").json()["version"] == ok.json()["version"]


def test_a_contact_is_verified_by_confirming_a_test_message(ladder, acme):
    from django.conf import settings
    from django.test import Client

    from mdr.accounts.models import Role
    from tests.conftest import login
    from tests.factories import UserFactory

    UserFactory(username="pa4", role=Role.PROVIDER_ADMIN)
    provider = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(provider, "pa4", "correct horse battery staple")
    with schema_context("acme"):
        lead = Contact.objects.get(name="CSIRT lead")
    sent = provider.post(f"/api/provider/customers/acme/contacts/{lead.pk}/verify")
    assert sent.status_code == 202
    ((rcpt, raw),) = ladder["inbox"].messages
    body = email.message_from_bytes(raw, policy=policy.default).get_body(preferencelist=("plain",)).get_content()
    assert rcpt == ["lead@acme.example"] and "連絡先確認" in body  # in the contact's language
    token = body.split("/contacts/verify/", 1)[1].split()[0]
    client = acme.client()
    assert client.get(f"/contacts/verify/{token}").status_code == 200  # showing never confirms
    with schema_context("acme"):
        assert Contact.objects.get(pk=lead.pk).verified_at is None
    assert client.post(f"/contacts/verify/{token}").status_code == 200
    assert client.post(f"/contacts/verify/{token}").status_code == 410
    with schema_context("acme"):
        assert Contact.objects.get(pk=lead.pk).verified_at is not None
