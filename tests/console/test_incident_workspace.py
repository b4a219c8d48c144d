"""The incident workspace: full timeline (internal and customer-visible apart), escalations with every attempt,
each action through its service, errors next to their field, acme never showing globex, reads audited."""

import uuid
from datetime import UTC, datetime

import pytest
from django_tenants.utils import schema_context

from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.escalations import services as escalations
from mdr.escalations.models import Contact, Delivery, DeliveryAttempt, Escalation
from mdr.incidents import services as incidents
from mdr.incidents.models import Incident, IncidentEvent

ACTOR = Actor(type="provider_staff", name="tests")


@pytest.fixture
def incident(acme) -> Incident:
    with schema_context("acme"):
        lead = Contact.objects.create(name="CSIRT lead", email="lead@acme.example", language="en")
        escalations.matrix_publish(
            actor=ACTOR,
            rules=[
                {"min_priority": "P3", "levels": [{"contacts": [lead.pk], "channels": ["email"], "wait_minutes": 15}]}
            ],
        )
        incident = Incident.objects.create(title="Ransomware on WS-01", severity_id=5, priority="P1")
        incidents.incident_note(incident=incident, text="looks like LockBit", actor=ACTOR)
        incidents.incident_note(incident=incident, text="We are investigating.", actor=ACTOR, customer_visible=True)
    return incident


@pytest.fixture
def globex_incident(globex) -> Incident:
    with schema_context("globex"):
        return Incident.objects.create(title="Globex secret exfiltration", severity_id=6, priority="P1")


def _url(incident, action: str = "", slug: str = "acme") -> str:
    return f"/customers/{slug}/incidents/{incident.pk}" + (f"/{action}" if action else "")


def test_the_workspace_shows_the_full_timeline_apart_and_audits_the_read(incident, analyst):
    # when
    response = analyst.get(_url(incident))
    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="event-internal"' in page and "looks like LockBit" in page
    assert 'data-testid="event-customer"' in page and "We are investigating." in page
    assert "Customer-visible" in page and "Internal" in page
    assert "JST" in page  # acme's time zone, Asia/Tokyo
    with schema_context("acme"):
        read = AuditEvent.objects.filter(action="provider.console.incident.view").first()
        assert read is not None and read.target_id == str(incident.pk) and read.actor_type == "provider_staff"
    assert not AuditEvent.objects.filter(action="provider.console.incident.view").exists()  # not in public


def test_the_list_audits_and_shows_only_the_customers_incidents(incident, globex_incident, analyst):
    page = analyst.get("/customers/acme/incidents/").content.decode()
    assert "Ransomware on WS-01" in page and "Globex secret exfiltration" not in page
    with schema_context("acme"):
        assert AuditEvent.objects.filter(action="provider.console.incidents.list").exists()
    with schema_context("globex"):
        assert not AuditEvent.objects.filter(action="provider.console.incidents.list").exists()


def test_another_customers_incident_is_not_found_through_acme(incident, globex_incident, analyst):
    assert analyst.get(_url(globex_incident)).status_code == 404
    assert analyst.post(_url(globex_incident, "note"), {"note-text": "x"}).status_code == 404
    assert analyst.get(f"/customers/acme/incidents/{uuid.uuid4()}").status_code == 404
    assert "Globex" not in analyst.get(_url(incident)).content.decode()
    with schema_context("globex"):
        assert not IncidentEvent.objects.filter(incident_id=globex_incident.pk).exists()


def test_escalate_with_a_brief_creates_an_escalation_with_that_tlp(incident, analyst):
    # when
    response = analyst.post(
        _url(incident, "escalate"),
        {
            "escalate-tlp": "RED",
            "escalate-summary": "Ransomware on WS-01; isolated.",
            "escalate-impact_functional": "high",
            "escalate-actions_taken": "isolated WS-01\nreset credentials\n",
            "escalate-recommended_actions": "restore from backup",
        },
    )
    # then: POST-redirect-GET with a message
    assert response.status_code == 302 and response["Location"] == _url(incident)
    with schema_context("acme"):
        escalation = Escalation.objects.get(incident_id=incident.pk)
        assert escalation.brief["tlp"] == "RED"
        assert escalation.brief["actions_taken"] == ["isolated WS-01", "reset credentials"]
        assert escalation.brief["impact"] == {"functional": "high"}
        assert Incident.objects.get(pk=incident.pk).state == "escalated"
    page = analyst.get(response["Location"]).content.decode()
    assert "Escalation started (TLP:RED)." in page and 'data-testid="delivery"' in page


def test_a_refused_action_shows_the_error_next_to_its_field(incident, analyst):
    # a second escalation while one runs: the service refuses it
    analyst.post(_url(incident, "escalate"), {"escalate-tlp": "AMBER", "escalate-summary": "first"})
    again = analyst.post(_url(incident, "escalate"), {"escalate-tlp": "AMBER", "escalate-summary": "second"})
    assert again.status_code == 400 and "an escalation is already running" in again.content.decode()
    # a priority change without a reason
    response = analyst.post(_url(incident, "priority"), {"priority-priority": "P2", "priority-reason": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    with schema_context("acme"):
        assert Incident.objects.get(pk=incident.pk).priority == "P1"
        assert Escalation.objects.filter(incident_id=incident.pk).count() == 1


def test_transition_priority_and_notes_call_through(incident, analyst):
    assert analyst.post(_url(incident, "transition"), {"transition-to": "investigating"}).status_code == 302
    response = analyst.post(
        _url(incident, "priority"),
        {"priority-priority": "P2", "priority-severity_id": "3", "priority-reason": "one host only"},
    )
    assert response.status_code == 302
    assert analyst.post(_url(incident, "note"), {"note-text": "internal remark"}).status_code == 302
    assert (
        analyst.post(_url(incident, "note"), {"note-text": "Update for you", "note-customer_visible": "on"}).status_code
        == 302
    )
    # a state the lifecycle does not allow from here is refused by the form
    assert analyst.post(_url(incident, "transition"), {"transition-to": "closed"}).status_code == 400
    with schema_context("acme"):
        current = Incident.objects.get(pk=incident.pk)
        assert (current.state, current.priority, current.severity_id) == ("investigating", "P2", 3)
        assert IncidentEvent.objects.get(incident=incident, text="internal remark").visibility == "internal"
        assert IncidentEvent.objects.get(incident=incident, text="Update for you").visibility == "customer"


def test_follow_up_reaches_the_contacts_the_escalation_reached_and_attempts_are_shown(incident, analyst):
    # given: escalated, and the first delivery sent (one attempt logged)
    analyst.post(_url(incident, "escalate"), {"escalate-tlp": "GREEN", "escalate-summary": "first notice"})
    with schema_context("acme"):
        delivery = Delivery.objects.get(escalation__incident_id=incident.pk)
        Delivery.objects.filter(pk=delivery.pk).update(state="sent", delivered_at=datetime.now(UTC), attempts=1)
        DeliveryAttempt.objects.create(delivery=delivery, number=1, at=datetime.now(UTC), ok=True, status_code=250)
    # when
    response = analyst.post(
        _url(incident, "update"),
        {"update-kind": "final", "update-text": "Contained and closed.", "update-tlp": "CLEAR"},
    )
    # then
    assert response.status_code == 302
    with schema_context("acme"):
        escalation = Escalation.objects.get(incident_id=incident.pk)
        assert escalation.brief["tlp"] == "CLEAR" and escalation.brief["summary"] == "Contained and closed."
        assert Delivery.objects.filter(escalation=escalation, notice_kind="final").count() == 1
    page = analyst.get(_url(incident)).content.decode()
    assert 'data-testid="attempts"' in page and "(250)" in page
