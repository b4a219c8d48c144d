"""Deliveries through the notifications queue with real receivers (aiosmtpd, an HTTP receiver verifying
Standard-Webhooks signatures) and an injected clock: retries with backoff and one notice from the receiver's view,
failover to the next channel and to the next level, acknowledgement cancelling what is still pending, the notify
clock met by the first receipt, the update cadence, matrix rules (categories, sources, coverage window, auto)."""

import email
from datetime import UTC, date, datetime, timedelta
from email import policy

import pytest
from django_tenants.utils import schema_context

from mdr.alerts.models import Alert
from mdr.escalations import services, webhook
from mdr.escalations.models import Contact, Delivery, Escalation
from mdr.incidents.models import Incident
from mdr.jobs.models import DueWork
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import SlaTimer
from mdr.sla.services import calendar_store, policy_create, timer_start
from tests.escalations.test_ladder import ACTOR, T0, deliver_due
from tests.escalations.test_webhook import Receiver
from tests.live import free_port


@pytest.fixture
def mail(mail_server, settings):
    """The real SMTP server (stopped and started by some tests), and loopback webhooks allowed for the receivers."""
    settings.MDR_WEBHOOK_ALLOW_PRIVATE = True
    return mail_server


def _matrix(*levels, **rule):
    return services.matrix_publish(actor=ACTOR, rules=[{"min_priority": "P3", **rule, "levels": list(levels)}])


def _incident(priority="P1") -> Incident:
    incident = Incident.objects.create(title="Beaconing from WS-07", severity_id=5, priority=priority)
    Incident.objects.filter(pk=incident.pk).update(created_at=T0)
    incident.refresh_from_db()
    return incident


def _notify_clock(incident: Incident) -> SlaTimer:
    return timer_start(
        subject_type="incident",
        subject_id=str(incident.pk),
        metric="notify",
        priority=incident.priority,
        goal_seconds=1800,
        calendar=BusinessCalendar.always(timezone="UTC"),
        at=T0,
    )


def test_webhook_retried_with_backoff_until_the_receiver_recovers_and_it_sees_one_notice(acme, mail):
    secret = webhook.secret_generate()
    receiver = Receiver(secret, fail_first=2)
    try:
        with schema_context("acme"):
            duty = Contact.objects.create(name="duty", webhook_url=receiver.url, webhook_secret=secret, language="en")
            _matrix({"contacts": [duty.pk], "channels": ["webhook"], "wait_minutes": 30})
            incident = _incident()
            notify = _notify_clock(incident)
            services.escalation_start(incident=incident, actor=ACTOR, now=T0)
            delivery = Delivery.objects.get()
            # the lease: if the on-commit message were lost, the sweep would hand the delivery over again
            assert DueWork.objects.get(kind="delivery_attempt_task").due_at == T0 + timedelta(seconds=60)
            # when: the receiver answers 503 twice, then 200
            assert deliver_due(T0) == ["retry"]
            delivery.refresh_from_db()
            assert delivery.next_attempt_at == T0 + timedelta(seconds=30)
            assert DueWork.objects.get(kind="delivery_attempt_task").due_at == T0 + timedelta(seconds=30)
            assert deliver_due(T0 + timedelta(seconds=29)) == []  # not due yet
            assert deliver_due(T0 + timedelta(seconds=30)) == ["retry"]
            assert deliver_due(T0 + timedelta(seconds=89)) == []  # backoff doubled: 60 s
            assert deliver_due(T0 + timedelta(seconds=90)) == ["sent"]
            # then
            delivery.refresh_from_db()
            assert (delivery.state, delivery.attempts, delivery.delivered_at) == (
                "sent",
                3,
                T0 + timedelta(seconds=90),
            )
            assert [(a.number, a.ok, a.status_code) for a in delivery.attempt_log.all()] == [
                (1, False, 503),
                (2, False, 503),
                (3, True, 200),
            ]
            assert not DueWork.objects.filter(kind="delivery_attempt_task").exists()
            notify.refresh_from_db()
            assert notify.state == "met" and notify.stopped_at == T0 + timedelta(seconds=90)
            incident.refresh_from_db()
            assert incident.notified_at == T0 + timedelta(seconds=90)
            assert deliver_due(T0 + timedelta(hours=1)) == []  # a sent delivery is never sent again
        assert receiver.attempts == 3 and receiver.rejected == 0
        assert list(receiver.accepted) == [delivery.message_id]  # one notice, one webhook-id across the retries
        body = receiver.accepted[delivery.message_id]
        assert body["incident_id"] == str(incident.pk) and body["ack_url"].startswith("http://acme.mdr.test:8000/ack/")
    finally:
        receiver.close()


def test_a_level_whose_deliveries_all_fail_hands_over_to_the_next_level_at_once(acme, mail, settings):
    settings.MDR_DELIVERY_MAX_ATTEMPTS = 2
    closed_port = free_port()  # nothing listens: connection refused, a failure worth retrying
    with schema_context("acme"):
        gone = Contact.objects.create(
            name="gone", webhook_url=f"http://127.0.0.1:{closed_port}/hook", webhook_secret=webhook.secret_generate()
        )
        lead = Contact.objects.create(name="lead", email="lead@acme.example", language="ja")
        _matrix(
            {"contacts": [gone.pk], "channels": ["webhook"], "wait_minutes": 15},
            {"contacts": [lead.pk], "channels": ["email"], "wait_minutes": 15},
        )
        incident = _incident()
        escalation = services.escalation_start(incident=incident, actor=ACTOR, now=T0)
        assert deliver_due(T0) == ["retry"]
        # when: the second and last attempt fails
        assert deliver_due(T0 + timedelta(seconds=30)) == ["failed"]
        # then: level 1 is queued now, not after level 0's 15 minutes
        escalation.refresh_from_db()
        assert (escalation.level, escalation.cycle) == (1, 0)
        assert incident.timeline.filter(kind="escalation_level_failed").count() == 1
        step = DueWork.objects.get(kind="escalation_step_task")
        assert step.due_at == T0 + timedelta(seconds=30) + timedelta(minutes=15)
        assert deliver_due(T0 + timedelta(seconds=30)) == ["sent"]
        failed = Delivery.objects.get(contact=gone)
        assert failed.state == "failed" and "Connection refused" in failed.last_error
    assert [rcpt for rcpt, _ in mail.messages] == [["lead@acme.example"]]


def test_failover_level_tries_the_next_channel_when_one_is_refused(acme, mail, settings):
    settings.MDR_WEBHOOK_ALLOW_PRIVATE = False  # the SSRF guard refuses the loopback webhook: a permanent failure
    with schema_context("acme"):
        lead = Contact.objects.create(
            name="lead",
            email="lead@acme.example",
            webhook_url="http://127.0.0.1:9/hook",
            webhook_secret=webhook.secret_generate(),
        )
        _matrix({"contacts": [lead.pk], "channels": ["webhook", "email"], "wait_minutes": 15, "mode": "failover"})
        incident = _incident()
        services.escalation_start(incident=incident, actor=ACTOR, now=T0)
        assert list(Delivery.objects.order_by("pk").values_list("channel", "state")) == [
            ("webhook", "pending"),
            ("email", "standby"),  # not sent while the first channel may still work
        ]
        assert deliver_due(T0) == ["failed"]  # refused at once: no retry
        assert deliver_due(T0) == ["sent"]  # the e-mail, queued by the failure
        hook = Delivery.objects.get(channel="webhook")
        assert hook.attempts == 1 and "plain http" in hook.last_error
    assert len(mail.messages) == 1


def test_acknowledgement_cancels_deliveries_still_retrying(acme, mail):
    secret = webhook.secret_generate()
    receiver = Receiver(secret, fail_first=100)
    try:
        with schema_context("acme"):
            duty = Contact.objects.create(name="duty", webhook_url=receiver.url, webhook_secret=secret)
            lead = Contact.objects.create(name="lead", email="lead@acme.example")
            _matrix({"contacts": [duty.pk, lead.pk], "channels": ["webhook", "email"], "wait_minutes": 15})
            incident = _incident()
            escalation = services.escalation_start(incident=incident, actor=ACTOR, now=T0)
            assert sorted(deliver_due(T0)) == ["failed", "failed", "retry", "sent"]  # no address: failed for good
            services.escalation_acknowledge_incident(
                incident_id=incident.pk, by="csirt", channel="api", ip="203.0.113.5", now=T0 + timedelta(seconds=10)
            )
            assert deliver_due(T0 + timedelta(minutes=5)) == []
            states = dict(Delivery.objects.values_list("target", "state").filter(channel="webhook", contact=duty))
            assert states == {receiver.url: "cancelled"}
            incident.refresh_from_db()
            assert incident.customer_acknowledged_at == T0 + timedelta(seconds=10)
            assert not DueWork.objects.filter(ref=str(escalation.pk)).exists()
    finally:
        receiver.close()


def test_smtp_server_down_then_back_the_same_message_id_arrives_once(acme, mail):
    with schema_context("acme"):
        lead = Contact.objects.create(name="lead", email="lead@acme.example", language="en")
        _matrix({"contacts": [lead.pk], "channels": ["email"], "wait_minutes": 15})
        services.escalation_start(incident=_incident(), actor=ACTOR, now=T0)
        mail.stop()
        assert deliver_due(T0) == ["retry"]
        delivery = Delivery.objects.get()
        assert delivery.attempt_log.get().error.startswith("ConnectionRefusedError")
        mail.start()
        assert deliver_due(T0 + timedelta(seconds=30)) == ["sent"]
    ((_rcpt, raw),) = mail.messages
    assert email.message_from_bytes(raw, policy=policy.default)["Message-ID"] == delivery.message_id


def test_expired_and_archived_contacts_are_recorded_not_called(acme, mail):
    with schema_context("acme"):
        expired = Contact.objects.create(name="old", email="old@acme.example", valid_until=date(2020, 1, 1))
        lead = Contact.objects.create(name="lead", email="lead@acme.example")
        _matrix({"contacts": [expired.pk, lead.pk], "channels": ["email"], "wait_minutes": 15})
        services.escalation_start(incident=_incident(), actor=ACTOR, now=T0)
        assert deliver_due(T0) == ["sent"]
        old = Delivery.objects.get(contact=expired)
        assert old.state == "failed" and old.last_error == "the contact expired on 2020-01-01" and old.attempts == 0
    assert [rcpt for rcpt, _ in mail.messages] == [["lead@acme.example"]]


def test_webhook_signed_with_both_secrets_while_a_rotation_overlaps(acme, mail):
    old, new = webhook.secret_generate(), webhook.secret_generate()
    receiver = Receiver(old)  # the customer's receiver has not switched yet
    try:
        with schema_context("acme"):
            duty = Contact.objects.create(
                name="duty",
                webhook_url=receiver.url,
                webhook_secret=new,
                webhook_secret_previous=old,
                webhook_secret_previous_until=T0 + timedelta(hours=24),
            )
            _matrix({"contacts": [duty.pk], "channels": ["webhook"], "wait_minutes": 15})
            services.escalation_start(incident=_incident(), actor=ACTOR, now=T0)
            assert deliver_due(T0) == ["sent"]
            # after the overlap only the new secret signs: the old receiver refuses
            services.escalation_start(incident=_incident(), actor=ACTOR, now=T0)
            assert deliver_due(T0 + timedelta(hours=25)) == ["retry"]
        assert len(receiver.accepted) == 1 and receiver.rejected == 1
    finally:
        receiver.close()


def _alert(incident: Incident, n: int, **fields) -> Alert:
    values = dict(
        dedup_key=f"k-{incident.pk}-{n}",
        source_format="native",
        title="t",
        severity_id=5,
        observed_at=T0,
        received_at=T0,
        raw={},
        first_seen_at=T0,
        last_seen_at=T0,
        incident_id=incident.pk,
    )
    return Alert.objects.create(**(values | fields))


def test_rules_match_categories_sources_and_the_coverage_window(acme, mail):
    with schema_context("acme"):
        a, b, c = (Contact.objects.create(name=n, email=f"{n}@acme.example") for n in "abc")
        office = calendar_store(
            actor=ACTOR,
            name="office",
            spec={
                "timezone": "Asia/Tokyo",
                "weekly_hours": {d: [["09:00", "18:00"]] for d in range(5)},
                "holidays": ["JP"],
            },
        )
        level = {"channels": ["email"], "wait_minutes": 5}
        matrix = services.matrix_publish(
            actor=ACTOR,
            rules=[
                {"min_priority": "P2", "categories": ["Malware"], "levels": [{**level, "contacts": [a.pk]}]},
                {
                    "min_priority": "P3",
                    "sources": ["suricata"],
                    "window": "business_hours",
                    "calendar": office.pk,
                    "levels": [{**level, "contacts": [b.pk]}],
                },
                {"min_priority": "P4", "levels": [{**level, "contacts": [c.pk]}]},
            ],
        )
        malware, ids = _incident("P2"), _incident("P3")
        _alert(malware, 1, category="malware")
        _alert(ids, 1, category="network", source_format="suricata")
        tuesday_10_tokyo = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
        tuesday_20_tokyo = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
        holiday_10_tokyo = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Labour Thanksgiving Day, a Monday
        assert services.rule_select(matrix=matrix, incident=malware, now=tuesday_20_tokyo) == 0
        assert services.rule_select(matrix=matrix, incident=ids, now=tuesday_10_tokyo) == 1
        assert services.rule_select(matrix=matrix, incident=ids, now=tuesday_20_tokyo) == 2  # after hours
        assert services.rule_select(matrix=matrix, incident=ids, now=holiday_10_tokyo) == 2
        with pytest.raises(services.EscalationError) as err:
            services.matrix_publish(
                actor=ACTOR,
                rules=[{"min_priority": "P1", "window": "after_hours", "levels": [{**level, "contacts": [a.pk]}]}],
            )
        assert err.value.field == "rules[0].calendar"


def test_auto_rule_escalates_from_the_pipeline_and_the_clocks_follow_the_notices(acme, mail):
    from datetime import datetime as dt
    from zoneinfo import ZoneInfo

    from mdr.incidents.services import incident_transition
    from tests.scope.helpers import new_version
    from tests.scope.test_classification import ITEMS, ingest_and_process

    with schema_context("acme"):
        gold = policy_create(
            actor=ACTOR,
            name="gold",
            targets=[
                {"priority": "P1", "metric": "notify", "goal_minutes": 30},
                {"priority": "P1", "metric": "update", "goal_minutes": 60},
            ],
        )
        new_version(items=ITEMS, terms={"sla_policy_id": gold.pk})
        lead = Contact.objects.create(name="lead", email="lead@acme.example", language="ja")
        services.matrix_publish(
            actor=ACTOR,
            rules=[
                {
                    "min_priority": "P1",
                    "auto": True,
                    "levels": [{"contacts": [lead.pk], "channels": ["email"], "wait_minutes": 15}],
                }
            ],
        )
    now = dt.now(ZoneInfo("UTC"))
    from tests.alerts.test_ingest_api import native

    # when: a critical alert on a critical in-scope host is processed
    (alert,) = ingest_and_process(
        acme, [native(1, hosts=["web01"], ips=[], severity="critical", observed_at=now.isoformat())]
    )
    with schema_context("acme"):
        incident = Incident.objects.get(pk=alert.incident_id)
        # then: escalated without an analyst, notify clock running, the notice queued (sent after commit)
        assert incident.state == "escalated"
        escalation = Escalation.objects.get(incident_id=incident.pk)
        assert escalation.matrix.version >= 1 and escalation.brief["tlp"] == "AMBER"
        notify = SlaTimer.objects.get(subject_type="incident", subject_id=str(incident.pk), metric="notify")
        assert notify.state == "running"
        assert deliver_due(now + timedelta(seconds=5)) == ["sent"]
        notify.refresh_from_db()
        assert notify.state == "met"
        update = SlaTimer.objects.get(subject_type="incident", subject_id=str(incident.pk), metric="update")
        assert update.state == "running" and update.goal_seconds == 3600
        # a follow-up to the reached contacts meets the update cadence and starts the next cycle
        rows = services.escalation_update_send(
            incident=incident, kind="follow_up", text="Host isolated; forensics ongoing.", actor=ACTOR
        )
        assert [(d.contact_id, d.channel, d.notice_kind, d.sequence) for d in rows] == [
            (lead.pk, "email", "follow_up", 2)
        ]
        update.refresh_from_db()
        assert update.state == "met"
        assert SlaTimer.objects.filter(subject_id=str(incident.pk), metric="update", state="running").count() == 1
        deliver_due(dt.now(ZoneInfo("UTC")) + timedelta(seconds=5))
        assert incident.timeline.filter(kind="update", visibility="customer").exists()
        # resolving stops the cadence: the final report was the last update
        incident_transition(incident=incident, to="resolved", actor=ACTOR, reason="contained and cleaned")
        assert not SlaTimer.objects.filter(subject_id=str(incident.pk), metric="update", state="running").exists()
    subjects = [
        str(email.message_from_bytes(raw, policy=policy.default)["Subject"]).strip() for _, raw in mail.messages
    ]
    assert subjects[0].startswith("【AMBER】インシデント通知 P1") and subjects[1].startswith("【AMBER】続報 #2")


def test_incident_detail_shows_the_proof_to_the_soc_and_the_notices_to_the_customer(acme, mail):
    from django.conf import settings
    from django.test import Client

    from mdr.accounts.models import Role
    from tests.conftest import login
    from tests.factories import UserFactory

    with schema_context("acme"):
        lead = Contact.objects.create(name="lead", email="lead@acme.example")
        _matrix({"contacts": [lead.pk], "channels": ["email"], "wait_minutes": 15})
        incident = _incident()
        services.escalation_start(incident=incident, actor=ACTOR, now=T0)
        deliver_due(T0)
        UserFactory(username="csirt8", role=Role.CSIRT)
    UserFactory(username="an8", role=Role.ANALYST)
    soc = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(soc, "an8", "correct horse battery staple")
    provider_view = soc.get(f"/api/provider/customers/acme/incidents/{incident.pk}").json()
    (escalation,) = provider_view["escalations"]
    (delivery,) = escalation["deliveries"]
    assert delivery["state"] == "sent" and delivery["attempt_log"][0]["ok"] is True
    assert provider_view["notified_at"] is not None
    customer = acme.client()
    login(customer, "csirt8", "correct horse battery staple")
    customer_view = customer.get(f"/api/v1/incidents/{incident.pk}").json()
    (delivery,) = customer_view["escalations"][0]["deliveries"]
    assert delivery["target"] == "lead@acme.example" and "attempt_log" not in delivery


def test_an_acknowledgement_link_of_one_customer_is_unknown_on_another(acme, globex, mail):
    with schema_context("acme"):
        lead = Contact.objects.create(name="lead", email="lead@acme.example")
        _matrix({"contacts": [lead.pk], "channels": ["email"], "wait_minutes": 15})
        services.escalation_start(incident=_incident(), actor=ACTOR, now=T0)
        deliver_due(T0)
    text = email.message_from_bytes(mail.messages[0][1], policy=policy.default).get_body(("plain",)).get_content()
    token = next(line for line in text.splitlines() if "/ack/" in line).split("/ack/", 1)[1].strip()
    response = globex.client().post(f"/ack/{token}")
    assert response.status_code == 410 and "unknown" in response.content.decode()
    with schema_context("acme"):
        assert Escalation.objects.get().state == "running"


def test_slack_and_teams_through_the_ladder_record_only_the_host_of_their_secret_urls(acme, mail):
    import json

    from tests.escalations.test_webhook import Endpoint

    slack, teams = Endpoint(), Endpoint()
    teams.answer(202)
    try:
        with schema_context("acme"):
            desk = Contact.objects.create(
                name="desk", language="en", slack_webhook_url=slack.url, teams_webhook_url=teams.url
            )
            _matrix({"contacts": [desk.pk], "channels": ["slack", "teams"], "wait_minutes": 15})
            incident = _incident()
            services.escalation_start(incident=incident, actor=ACTOR, now=T0)
            assert deliver_due(T0) == ["sent", "sent"]
            targets = set(Delivery.objects.values_list("target", flat=True))
            assert targets == {"http://127.0.0.1/…"}  # the token in the URL path is a credential: not recorded
            incident.refresh_from_db()
            assert incident.notified_at == T0
        (slack_request,) = slack.requests
        (teams_request,) = teams.requests
        assert "Beaconing from WS-07" in json.dumps(json.loads(slack_request.body)["blocks"])
        card = json.loads(teams_request.body)["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard" and "/ack/" in json.dumps(card["actions"])
    finally:
        slack.close()
        teams.close()
