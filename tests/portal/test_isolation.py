"""Acme's portal never shows globex's data; globex's ids on acme's portal are 404."""

from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.escalations.models import ChangeProposal
from mdr.incidents.models import Visibility
from mdr.jobs.models import TimerIndex
from tests.portal.helpers import add_event, escalate, make_alert, make_contact, make_incident, portal_client

SECRET = "zanzibar-globex-only"


def test_acme_pages_never_show_globex_data(acme, globex):
    # given: globex has an alert, an incident waiting for acknowledgement, a contact and a proposal
    make_alert("globex", 1, title=f"{SECRET} alert", hosts=[f"{SECRET}-host"])
    incident = make_incident("globex", f"{SECRET} incident")
    add_event("globex", incident, f"{SECRET} update", visibility=Visibility.CUSTOMER)
    escalate("globex", incident, make_contact("globex", f"{SECRET} contact"))
    with schema_context("globex"):
        ChangeProposal.objects.create(
            kind="contact_create", payload={"name": SECRET}, proposed_by=SECRET, proposed_at=timezone.now()
        )
    TimerIndex.objects.create(
        schema_name="globex",
        timer_id=424242,
        subject_type="incident",
        subject_id=str(incident.pk),
        metric=SECRET[:16],
        priority="P1",
        deadline=timezone.now(),
    )
    client = portal_client(acme, Role.CUSTOMER_ADMIN)
    # when / then
    searched = client.get("/alerts/", {"q": SECRET}).content.decode()
    assert "No alert matches." in searched and 'data-testid="alert-row"' not in searched
    for url in ["/", "/alerts/", "/incidents/", "/escalation/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.content.decode(), url
        assert SECRET[:16] not in response.content.decode(), url


def test_globex_ids_on_acme_portal_are_not_found(acme, globex):
    # given
    alert = make_alert("globex", 1, title=SECRET)
    incident = make_incident("globex", SECRET)
    escalate("globex", incident, make_contact("globex", "g"))
    contact = make_contact("globex", SECRET)
    with schema_context("globex"):
        proposal = ChangeProposal.objects.create(
            kind="contact_create", payload={"name": SECRET}, proposed_by="g", proposed_at=timezone.now()
        )
    client = portal_client(acme, Role.CUSTOMER_ADMIN)
    # when / then
    for response in (
        client.get(f"/alerts/{alert.pk}"),
        client.get(f"/incidents/{incident.pk}"),
        client.post(f"/incidents/{incident.pk}/acknowledge"),
        client.post(f"/incidents/{incident.pk}/comment", {"text": "hi"}),
        client.get(f"/escalation/propose/change/{contact.pk}"),  # acme has no contact at all
        client.post(f"/escalation/proposals/{proposal.pk}/withdraw"),
    ):
        assert response.status_code == 404
        assert SECRET not in response.content.decode()
    # and nothing changed at globex
    with schema_context("globex"):
        incident.refresh_from_db()
        proposal.refresh_from_db()
        assert incident.customer_acknowledged_at is None
        assert not incident.timeline.filter(kind="customer_comment").exists()
        assert proposal.state == "pending"
