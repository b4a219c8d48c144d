"""Recommended actions: rows made from the escalation brief (first report and follow-ups, one per text), the status
the customer sets (timeline, audit, the public "need help" index), and the customer API by role and key."""

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.escalations import services as escalation_services
from mdr.escalations.models import Contact, Delivery, Escalation
from mdr.incidents.models import ActionStatus, Incident, IncidentEvent, RecommendedAction, Visibility
from mdr.incidents.services import IncidentError, recommended_action_set_status, recommended_actions_sync
from mdr.jobs.models import OpenRequestIndex, OpenRequestKind
from tenants.models import Customer
from tests.factories import ApiKeyFactory
from tests.portal.helpers import portal_client

ANALYST = Actor(type="provider_staff", name="analyst#7")
CAROL = Actor(type="customer_user", name="carol#3")


def _escalated(schema: str, actions: list[str]) -> Incident:
    """An incident escalated by the real service with a brief recommending ``actions``."""
    with schema_context(schema):
        contact = Contact.objects.create(name="CSIRT lead", email=f"lead@{schema}.example")
        escalation_services.matrix_publish(
            actor=ANALYST,
            rules=[
                {
                    "min_priority": "P4",
                    "levels": [{"contacts": [contact.pk], "channels": ["email"], "wait_minutes": 15}],
                }
            ],
        )
        incident = Incident.objects.create(title=f"Ransomware at {schema}", severity_id=5, priority="P1")
        escalation_services.incident_escalate(
            incident=incident,
            actor=ANALYST,
            brief={"tlp": "AMBER", "summary": "WS-01 encrypted", "recommended_actions": actions},
        )
        return incident


def test_escalation_brief_makes_one_row_per_recommended_action(acme):
    # given / when
    incident = _escalated("acme", ["Isolate WS-01", "Reset the password of j.doe", "  Isolate   WS-01 "])
    # then
    with schema_context("acme"):
        rows = list(RecommendedAction.objects.filter(incident=incident).order_by("position"))
        assert [(r.text, r.status, r.position) for r in rows] == [
            ("Isolate WS-01", "open", 0),
            ("Reset the password of j.doe", "open", 1),
        ]
        assert rows[0].escalation_id == Escalation.objects.get(incident_id=incident.pk).pk
        event = IncidentEvent.objects.get(incident=incident, kind="actions_recommended")
        assert event.visibility == Visibility.CUSTOMER and event.data["count"] == 2


def test_a_follow_up_adds_new_actions_and_keeps_the_status_of_repeated_ones(acme):
    # given
    incident = _escalated("acme", ["Isolate WS-01"])
    with schema_context("acme"):
        escalation = Escalation.objects.get(incident_id=incident.pk)
        contact = Contact.objects.get(name="CSIRT lead")
        Delivery.objects.create(
            escalation=escalation,
            level=0,
            cycle=0,
            contact=contact,
            channel="email",
            target=contact.email,
            created_at=timezone.now(),
            state="sent",
        )
        first = RecommendedAction.objects.get(incident=incident)
        recommended_action_set_status(actor=CAROL, action=first, status=ActionStatus.DONE, note="unplugged")
        # when
        escalation_services.escalation_update_send(
            incident=incident,
            kind="follow_up",
            text="Containment confirmed.",
            actor=ANALYST,
            brief={"recommended_actions": ["isolate ws-01", "Block 203.0.113.9 at the firewall"]},
        )
        # then
        rows = list(RecommendedAction.objects.filter(incident=incident).order_by("position"))
        assert [(r.text, r.status) for r in rows] == [
            ("Isolate WS-01", "done"),
            ("Block 203.0.113.9 at the firewall", "open"),
        ]
        assert rows[1].position == 1


def test_need_help_is_on_the_timeline_in_the_audit_log_and_in_the_public_index(acme):
    # given
    with schema_context("acme"):
        incident = Incident.objects.create(title="phishing", severity_id=4, priority="P2")
        (action,) = recommended_actions_sync(incident=incident, texts=["Purge the mail"], actor=ANALYST)
        # when
        recommended_action_set_status(actor=CAROL, action=action, status="need_help", note="No Exchange admin today")
        # then
        action.refresh_from_db()
        assert (action.status, action.note, action.status_by) == ("need_help", "No Exchange admin today", "carol#3")
        event = IncidentEvent.objects.get(incident=incident, kind="action_status")
        assert event.visibility == Visibility.CUSTOMER and event.data == {
            "action_id": action.pk,
            "old": "open",
            "new": "need_help",
        }
        assert "No Exchange admin today" in event.text and event.actor == "carol#3"
        audit = AuditEvent.objects.filter(action="incident.action_status").latest("id")
        assert audit.target_id == str(action.pk) and audit.data["to"] == "need_help"
        index = OpenRequestIndex.objects.get(kind=OpenRequestKind.ACTION_HELP, ref=str(action.pk))
        assert (index.schema_name, index.subject) == (connection.schema_name, str(incident.pk))
        # when: done after all
        recommended_action_set_status(actor=CAROL, action=action, status="done")
        # then
        assert not OpenRequestIndex.objects.filter(kind=OpenRequestKind.ACTION_HELP, ref=str(action.pk)).exists()


def test_status_and_note_are_checked(acme):
    with schema_context("acme"):
        incident = Incident.objects.create(title="x", severity_id=4, priority="P2")
        (action,) = recommended_actions_sync(incident=incident, texts=["Patch"], actor=ANALYST)
        with pytest.raises(IncidentError) as bad:
            recommended_action_set_status(actor=CAROL, action=action, status="maybe")
        assert bad.value.field == "status"
        with pytest.raises(IncidentError) as long:
            recommended_action_set_status(actor=CAROL, action=action, status="done", note="x" * 2001)
        assert long.value.field == "note"
        action.refresh_from_db()
        assert action.status == "open"


# ---- the customer API --------------------------------------------------------------------------------------------


def _incident_with_action(schema: str, text: str) -> tuple[Incident, RecommendedAction]:
    with schema_context(schema):
        incident = Incident.objects.create(title=f"incident {text}", severity_id=4, priority="P2")
        (action,) = recommended_actions_sync(incident=incident, texts=[text], actor=ANALYST)
        return incident, action


def test_api_reads_with_a_key_and_any_role_but_only_admins_and_csirt_set_status(acme, globex):
    # given
    incident, action = _incident_with_action("acme", "Rotate the VPN certificate")
    base = f"/api/v1/incidents/{incident.pk}/actions"
    key = ApiKeyFactory(customer=Customer.objects.get(slug="acme"), scopes=["read"]).plaintext
    keyed = acme.client()
    viewer = portal_client(acme, Role.VIEWER)
    csirt = portal_client(acme, Role.CSIRT)
    # when / then: reading
    listed = keyed.get(base, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert listed.status_code == 200
    assert [(a["id"], a["text"], a["status"]) for a in listed.json()] == [
        (action.pk, "Rotate the VPN certificate", "open")
    ]
    assert viewer.get(f"{base}/{action.pk}").json()["text"] == "Rotate the VPN certificate"
    assert (
        keyed.get(f"/api/v1/incidents/{incident.pk}", HTTP_AUTHORIZATION=f"Bearer {key}").json()["recommended_actions"][
            0
        ]["id"]
        == action.pk
    )
    # when / then: setting
    body = {"status": "need_help", "note": "which certificate?"}
    patch = {"content_type": "application/json"}
    assert keyed.patch(f"{base}/{action.pk}", body, HTTP_AUTHORIZATION=f"Bearer {key}", **patch).status_code == 403
    assert viewer.patch(f"{base}/{action.pk}", body, **patch).status_code == 403
    done = csirt.patch(f"{base}/{action.pk}", body, **patch)
    assert done.status_code == 200 and done.json()["status"] == "need_help"
    assert done.json()["note"] == "which certificate?"
    bad = csirt.patch(f"{base}/{action.pk}", {"status": "maybe"}, **patch)
    assert bad.status_code == 400 and "status" in bad.json()
    too_long = csirt.patch(f"{base}/{action.pk}", {"status": "done", "note": "x" * 2001}, **patch)
    assert too_long.status_code == 400 and "note" in too_long.json()
    assert csirt.patch(base, body, **patch).status_code == 404
    assert csirt.patch(f"{base}/nope", body, **patch).status_code == 404


def test_api_another_customers_incident_or_action_is_not_found(acme, globex):
    # given
    theirs, their_action = _incident_with_action("globex", "Globex-only secret step")
    mine, _action = _incident_with_action("acme", "Acme step")
    csirt = portal_client(acme, Role.CSIRT)
    # when / then
    response = csirt.get(f"/api/v1/incidents/{theirs.pk}/actions")
    assert response.status_code == 404 and "Globex-only" not in response.content.decode()
    assert csirt.get(f"/api/v1/incidents/{mine.pk}/actions/{their_action.pk}").status_code == 404
    patched = csirt.patch(
        f"/api/v1/incidents/{mine.pk}/actions/{their_action.pk}",
        {"status": "done"},
        content_type="application/json",
    )
    assert patched.status_code == 404
    with schema_context("globex"):
        assert RecommendedAction.objects.get(pk=their_action.pk).status == "open"


def test_the_actions_api_is_in_the_customer_schema_document(acme):
    schema = acme.client().get("/api/schema/").content.decode()
    assert "/api/v1/incidents/{incident_id}/actions/{action_id}" in schema
