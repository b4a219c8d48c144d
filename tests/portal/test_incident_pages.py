"""Incident pages: the customer-visible timeline only, notices received, acknowledge once, comments."""

import pytest
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.escalations.models import Delivery, EscalationState
from mdr.incidents.models import Visibility
from mdr.incidents.services import IncidentError, incident_customer_comment
from tests.portal.helpers import add_event, escalate, make_contact, make_incident, portal_client


def test_internal_notes_never_appear_on_the_incident_page(acme):
    # given
    incident = make_incident("acme", "lateral movement")
    add_event("acme", incident, "We are containing WS-01.", visibility=Visibility.CUSTOMER)
    add_event("acme", incident, "internal: suspect the contractor", visibility=Visibility.INTERNAL)
    # when
    html = portal_client(acme, Role.VIEWER).get(f"/incidents/{incident.pk}").content.decode()
    # then
    assert "We are containing WS-01." in html
    assert "suspect the contractor" not in html


def test_notices_received_list_deliveries_without_attempt_details(acme):
    # given
    incident = make_incident("acme", "notified")
    contact = make_contact("acme", "Duty desk", email="desk@acme.example")
    escalation = escalate("acme", incident, contact)
    with schema_context("acme"):
        from django.utils import timezone

        Delivery.objects.create(
            escalation=escalation,
            level=0,
            cycle=0,
            contact=contact,
            channel="email",
            target="desk@acme.example",
            created_at=timezone.now(),
            state="sent",
            last_error="smtp 451 internal detail",
        )
    # when
    html = portal_client(acme, Role.VIEWER).get(f"/incidents/{incident.pk}").content.decode()
    # then
    assert "desk@acme.example" in html and "Duty desk" in html
    assert "smtp 451 internal detail" not in html


def test_acknowledge_works_once_and_shows_in_the_timeline(acme):
    # given
    incident = make_incident("acme", "please acknowledge")
    escalation = escalate("acme", incident, make_contact("acme", "Duty desk"))
    client = portal_client(acme, Role.CSIRT, username="carol")
    assert 'data-testid="acknowledge"' in client.get(f"/incidents/{incident.pk}").content.decode()
    # when
    first = client.post(f"/incidents/{incident.pk}/acknowledge", follow=True)
    second = client.post(f"/incidents/{incident.pk}/acknowledge", follow=True)
    # then
    html = first.content.decode()
    assert first.status_code == 200 and "Acknowledged." in html
    assert 'data-kind="customer_acknowledged"' in html and "Acknowledged by carol (portal)" in html
    assert 'data-testid="acknowledge"' not in html
    assert "Not acknowledged: the escalation is acknowledged" in second.content.decode()
    with schema_context("acme"):
        escalation.refresh_from_db()
        incident.refresh_from_db()
        assert escalation.state == EscalationState.ACKNOWLEDGED and escalation.ack_channel == "portal"
        assert incident.customer_acknowledged_at is not None
        assert incident.timeline.filter(kind="customer_acknowledged").count() == 1


def test_viewer_may_neither_acknowledge_nor_comment(acme):
    # given
    incident = make_incident("acme", "viewer")
    escalation = escalate("acme", incident, make_contact("acme", "Duty desk"))
    client = portal_client(acme, Role.VIEWER)
    html = client.get(f"/incidents/{incident.pk}").content.decode()
    assert 'data-testid="acknowledge"' not in html and 'data-testid="comment-form"' not in html
    # when
    ack = client.post(f"/incidents/{incident.pk}/acknowledge")
    comment = client.post(f"/incidents/{incident.pk}/comment", {"text": "viewer says hi"})
    # then
    assert ack.status_code == 403 and comment.status_code == 403
    with schema_context("acme"):
        escalation.refresh_from_db()
        assert escalation.state == EscalationState.RUNNING
        assert not incident.timeline.exists()


@pytest.mark.parametrize("role", [Role.CUSTOMER_ADMIN, Role.CSIRT])
def test_comment_adds_a_customer_visible_event(acme, role):
    # given
    incident = make_incident("acme", "comment")
    client = portal_client(acme, role)
    # when
    response = client.post(f"/incidents/{incident.pk}/comment", {"text": "  Host isolated <b>by us</b>  "}, follow=True)
    # then
    html = response.content.decode()
    assert response.status_code == 200 and "Comment added" in html
    assert "Host isolated &lt;b&gt;by us&lt;/b&gt;" in html
    with schema_context("acme"):
        event = incident.timeline.get()
        assert (event.kind, event.visibility, event.text) == (
            "customer_comment",
            Visibility.CUSTOMER,
            "Host isolated <b>by us</b>",
        )
        assert AuditEvent.objects.filter(action="incident.customer_comment", target_id=str(incident.pk)).exists()


def test_empty_comment_is_refused_next_to_the_field(acme):
    incident = make_incident("acme", "empty")
    response = portal_client(acme, Role.CSIRT).post(f"/incidents/{incident.pk}/comment", {"text": "   "})
    assert response.status_code == 400
    assert 'data-testid="error-text"' in response.content.decode()


def test_incident_customer_comment_service_refuses_blank_and_writes_no_cadence_event(acme):
    incident = make_incident("acme", "svc")
    with schema_context("acme"):
        with pytest.raises(IncidentError) as exc:
            incident_customer_comment(incident=incident, text=" ", actor=Actor.system("tests"))
        assert exc.value.field == "text"
        event = incident_customer_comment(incident=incident, text="ok", actor=Actor.system("tests"))
        assert list(incident.timeline.values_list("kind", flat=True)) == ["customer_comment"]
        assert event.visibility == Visibility.CUSTOMER
