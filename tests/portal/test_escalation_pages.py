"""Contacts and escalation page: contacts with expiry, the matrix in force, proposals; customer admins propose."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.escalations.contacts import customer_today
from mdr.escalations.models import ChangeProposal, ProposalState
from tests.portal.helpers import escalate, make_contact, make_incident, portal_client


def test_page_shows_contacts_expiry_matrix_and_proposals(acme):
    # given
    with schema_context("acme"):
        today = customer_today()
    soon = make_contact("acme", "Soon Gone", valid_until=today + timedelta(days=12))
    make_contact("acme", "Long Lived", valid_until=today + timedelta(days=200), verified_at=timezone.now())
    escalate("acme", make_incident("acme", "x"), soon)
    with schema_context("acme"):
        ChangeProposal.objects.create(
            kind="contact_create", payload={"name": "New Person"}, proposed_by="alice", proposed_at=timezone.now()
        )
    # when
    html = portal_client(acme, Role.VIEWER).get("/escalation/").content.decode()
    # then
    assert "Soon Gone" in html and "Long Lived" in html
    assert html.count('data-testid="expiring"') == 1 and "12 days" in html
    assert "verified" in html
    assert "Rule 1: P4 or higher" in html and "15 min" in html
    assert "New Person" in html and "Pending provider approval" in html
    assert 'data-testid="propose-add-form"' not in html and "Withdraw" not in html


def test_customer_admin_proposes_a_contact_and_withdraws_it(acme):
    # given
    client = portal_client(acme, Role.CUSTOMER_ADMIN, username="alice")
    # when
    response = client.post(
        "/escalation/propose/add",
        {"add-name": "Night desk", "add-email": "night@acme.example", "add-language": "en"},
        follow=True,
    )
    # then
    assert response.status_code == 200 and "Proposed" in response.content.decode()
    with schema_context("acme"):
        proposal = ChangeProposal.objects.get()
        assert proposal.kind == "contact_create" and proposal.payload["email"] == "night@acme.example"
    # when: withdrawn
    client.post(f"/escalation/proposals/{proposal.pk}/withdraw", follow=True)
    with schema_context("acme"):
        proposal.refresh_from_db()
        assert proposal.state == ProposalState.WITHDRAWN


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"add-name": "", "add-email": "x@acme.example", "add-language": "en"}, "add-name"),
        ({"add-name": "No Reach", "add-language": "en"}, "add-email"),
        ({"add-name": "Bad Mail", "add-email": "not-an-address", "add-language": "en"}, "add-email"),
        (
            {"add-name": "Past", "add-email": "p@acme.example", "add-language": "en", "add-valid_until": "2001-01-01"},
            "add-valid_until",
        ),
        ({"add-name": "Hook", "add-webhook_url": "ftp://x", "add-language": "en"}, "add-webhook_url"),
    ],
)
def test_proposal_errors_name_the_field(acme, data, field):
    response = portal_client(acme, Role.CUSTOMER_ADMIN).post("/escalation/propose/add", data)
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in response.content.decode()
    with schema_context("acme"):
        assert not ChangeProposal.objects.exists()


def test_customer_admin_proposes_a_change_and_an_archive(acme):
    # given
    contact = make_contact(
        "acme", "Desk", email="desk@acme.example", slack_webhook_url="https://hooks.slack.com/x/SECRET"
    )
    other = make_contact("acme", "Other")
    client = portal_client(acme, Role.CUSTOMER_ADMIN)
    form = client.get(f"/escalation/propose/change/{contact.pk}").content.decode()
    assert "desk@acme.example" in form and "SECRET" not in form
    # when
    changed = client.post(
        f"/escalation/propose/change/{contact.pk}",
        {"name": "Desk", "email": "desk2@acme.example", "language": "ja"},
        follow=True,
    )
    archived = client.post("/escalation/propose/archive", {"contact": other.pk}, follow=True)
    nothing = client.post(
        f"/escalation/propose/change/{contact.pk}", {"name": "Desk", "email": "desk@acme.example", "language": "ja"}
    )
    # then
    assert "Proposed" in changed.content.decode() and "Proposed" in archived.content.decode()
    assert nothing.status_code == 400 and "payload: the proposal changes nothing" in nothing.content.decode()
    with schema_context("acme"):
        update = ChangeProposal.objects.get(kind="contact_update")
        assert update.payload == {"email": "desk2@acme.example"}  # the Slack URL left blank is kept, not cleared
        assert ChangeProposal.objects.get(kind="contact_archive").contact_id == other.pk


def test_viewer_and_csirt_may_not_propose(acme):
    contact = make_contact("acme", "Desk")
    with schema_context("acme"):
        proposal = ChangeProposal.objects.create(
            kind="contact_create", payload={"name": "x"}, proposed_by="a", proposed_at=timezone.now()
        )
    for role in (Role.VIEWER, Role.CSIRT):
        client = portal_client(acme, role)
        assert (
            client.post("/escalation/propose/add", {"add-name": "x", "add-email": "x@acme.example"}).status_code == 403
        )
        assert client.get(f"/escalation/propose/change/{contact.pk}").status_code == 403
        assert client.post("/escalation/propose/archive", {"contact": contact.pk}).status_code == 403
        assert client.post(f"/escalation/proposals/{proposal.pk}/withdraw").status_code == 403
    with schema_context("acme"):
        assert ChangeProposal.objects.count() == 1
        proposal.refresh_from_db()
        assert proposal.state == ProposalState.PENDING
