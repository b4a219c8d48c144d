"""Change proposals: a customer admin proposes on the customer's domain, provider staff approve or reject on the
provider domain; each step audited in the customer's schema; stale proposals refused."""

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.audit.models import AuditEvent
from mdr.audit.selectors import audit_chain_verify
from mdr.audit.services import Actor
from mdr.escalations import proposals, services
from mdr.escalations.contacts import contact_archive, contact_create
from mdr.escalations.models import ChangeProposal, Contact, EscalationMatrix
from tests.conftest import login
from tests.factories import UserFactory

ACTOR = Actor(type="provider_staff", name="padmin#1")
CUSTOMER = Actor(type="customer_user", name="acme-admin#1")
PROPOSALS = "/api/v1/escalation/proposals"
PROVIDER = "/api/provider/customers/acme/escalation/proposals"


@pytest.fixture
def admin(acme) -> Client:
    client = acme.client()
    login(client, acme.admin_username, acme.admin_password)
    return client


@pytest.fixture
def provider(acme) -> Client:
    UserFactory(username="pa-proposals", role=Role.PROVIDER_ADMIN)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "pa-proposals", "correct horse battery staple")
    return client


def _customer_user(acme, username: str, role: str) -> Client:
    with schema_context("acme"):
        UserFactory(username=username, role=role)
    client = acme.client()
    login(client, username, "correct horse battery staple")
    return client


def _rules(*contact_ids: int) -> list[dict]:
    return [
        {"min_priority": "P2", "levels": [{"contacts": list(contact_ids), "channels": ["email"], "wait_minutes": 15}]}
    ]


def test_full_flow_customer_proposes_provider_approves(acme, admin, provider):
    viewer = _customer_user(acme, "viewer-p", Role.VIEWER)
    csirt = _customer_user(acme, "csirt-p", Role.CSIRT)
    new_contact = {"name": "Night desk", "email": "night@acme.example", "language": "en"}
    # when: viewers and CSIRT members may not propose
    for client in (viewer, csirt):
        denied = client.post(
            PROPOSALS, {"kind": "contact_create", "payload": new_contact}, content_type="application/json"
        )
        assert denied.status_code == 403
    # when: the customer admin proposes
    proposed = admin.post(
        PROPOSALS,
        {"kind": "contact_create", "payload": new_contact, "comment": "our new night shift"},
        content_type="application/json",
    )
    # then: pending, nothing applied yet, visible to every customer role
    assert proposed.status_code == 201, proposed.content
    proposal_id = proposed.json()["id"]
    assert proposed.json()["state"] == "pending"
    with schema_context("acme"):
        assert not Contact.objects.filter(name="Night desk").exists()
    assert [p["id"] for p in viewer.get(PROPOSALS).json()] == [proposal_id]
    # when: the provider admin lists the pending ones and approves
    pending = provider.get(f"{PROVIDER}?state=pending")
    assert pending.status_code == 200 and [p["id"] for p in pending.json()] == [proposal_id]
    approved = provider.post(f"{PROVIDER}/{proposal_id}/approve", {"reason": "checked by phone"})
    # then: the contact exists, the proposal says so
    assert approved.status_code == 200, approved.content
    assert approved.json()["state"] == "approved" and approved.json()["decision_reason"] == "checked by phone"
    with schema_context("acme"):
        contact = Contact.objects.get(name="Night desk")
        assert approved.json()["result"] == {"contact_id": contact.pk}
        assert (contact.email, contact.language) == ("night@acme.example", "en")
    assert provider.get(f"{PROVIDER}?state=pending").json() == []
    # when: a matrix using the new contact is proposed and approved
    proposed = admin.post(
        PROPOSALS, {"kind": "matrix", "payload": {"rules": _rules(contact.pk)}}, content_type="application/json"
    )
    assert proposed.status_code == 201, proposed.content
    assert proposed.json()["payload"]["base_version"] is None  # no matrix yet
    approved = provider.post(f"{PROVIDER}/{proposed.json()['id']}/approve")
    assert approved.status_code == 200, approved.content
    # then: the customer sees the new version in force
    matrix = viewer.get("/api/v1/escalation/matrix")
    assert matrix.status_code == 200 and matrix.json()["version"] == approved.json()["result"]["matrix_version"]
    assert matrix.json()["rules"] == _rules(contact.pk)
    # and both steps of both proposals are in acme's audit log, by who did them
    with schema_context("acme"):
        steps = list(
            AuditEvent.objects.filter(action__startswith="escalation.proposal.")
            .order_by("id")
            .values_list("action", "actor_type", "actor")
        )
        admin_id = acme.admin_username
        assert [(a, t) for a, t, _ in steps] == [
            ("escalation.proposal.create", "customer_user"),
            ("escalation.proposal.approve", "provider_staff"),
        ] * 2
        assert steps[0][2].startswith(admin_id) and steps[1][2].startswith("pa-proposals")
        assert AuditEvent.objects.filter(action="escalation.contact.create", actor__startswith="pa-proposals").exists()
        assert AuditEvent.objects.filter(action="escalation.matrix.publish").count() == 1  # the dry run left nothing
        assert audit_chain_verify() == (True, None)
    with schema_context("public"):
        assert not AuditEvent.objects.filter(action__startswith="escalation.proposal.").exists()


def test_reject_needs_a_reason_and_decisions_are_final(acme, admin, provider):
    # given
    proposed = admin.post(
        PROPOSALS,
        {"kind": "contact_create", "payload": {"name": "Temp", "email": "temp@acme.example"}},
        content_type="application/json",
    )
    url = f"{PROVIDER}/{proposed.json()['id']}"
    # when: no reason
    refused = provider.post(f"{url}/reject", {"reason": "  "}, content_type="application/json")
    # then
    assert refused.status_code == 400 and "reason" in refused.json()
    # when: with a reason
    rejected = provider.post(f"{url}/reject", {"reason": "use the shared desk address"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    # then: the customer sees why; it cannot be approved or withdrawn any more
    mine = admin.get(f"{PROPOSALS}/{proposed.json()['id']}").json()
    assert mine["decision_reason"] == "use the shared desk address"
    assert provider.post(f"{url}/approve").status_code == 400
    assert admin.post(f"{PROPOSALS}/{proposed.json()['id']}/withdraw").status_code == 400
    with schema_context("acme"):
        assert not Contact.objects.filter(name="Temp").exists()
        assert AuditEvent.objects.get(action="escalation.proposal.reject").data["reason"] == (
            "use the shared desk address"
        )


def test_a_stale_matrix_proposal_is_refused(acme, admin, provider):
    # given: matrix v1, and a proposal based on it
    with schema_context("acme"):
        lead, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        duty, _ = contact_create(actor=ACTOR, data={"name": "Duty", "email": "duty@acme.example"})
        v1 = services.matrix_publish(actor=ACTOR, rules=_rules(lead.pk))
    proposed = admin.post(
        PROPOSALS,
        {"kind": "matrix", "payload": {"rules": _rules(lead.pk, duty.pk), "base_version": v1.version}},
        content_type="application/json",
    )
    assert proposed.status_code == 201, proposed.content
    # when: the provider publishes v2 meanwhile, then approves the proposal
    with schema_context("acme"):
        v2 = services.matrix_publish(actor=ACTOR, rules=_rules(duty.pk))
    stale = provider.post(f"{PROVIDER}/{proposed.json()['id']}/approve")
    # then
    assert stale.status_code == 400
    assert "stale" in stale.json()["base_version"][0] and f"v{v2.version}" in stale.json()["base_version"][0]
    with schema_context("acme"):
        assert EscalationMatrix.objects.order_by("-version").first().version == v2.version
        assert ChangeProposal.objects.get(pk=proposed.json()["id"]).state == "pending"  # left for a rejection
    # and a proposal against an old version is refused up front
    late = admin.post(
        PROPOSALS,
        {"kind": "matrix", "payload": {"rules": _rules(lead.pk), "base_version": v1.version}},
        content_type="application/json",
    )
    assert late.status_code == 400 and "base_version" in late.json()


def test_a_proposal_for_a_contact_archived_meanwhile_is_refused(acme):
    with schema_context("acme"):
        # given
        contact, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        proposal = proposals.proposal_create(
            actor=CUSTOMER, kind="contact_update", contact=contact, payload={"phone": "+81 3 1234 5678"}
        )
        contact_archive(actor=ACTOR, contact=contact)
        # when / then
        with pytest.raises(services.EscalationError, match="stale") as err:
            proposals.proposal_approve(actor=ACTOR, proposal=proposal)
        assert err.value.field == "contact"
        assert ChangeProposal.objects.get(pk=proposal.pk).state == "pending"
        assert Contact.objects.get(pk=contact.pk).phone == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "kind": "contact_create",
                "payload": {"name": "X", "email": "x@acme.example", "webhook_secret": "whsec_A"},
            },
            "webhook_secret",
        ),
        ({"kind": "contact_create", "payload": {"name": "X", "email": "x@acme.example", "language": "de"}}, "language"),
        ({"kind": "contact_create", "payload": {"name": "X"}}, "email"),
        ({"kind": "contact_update", "payload": {"phone": "1"}}, "contact"),
        ({"kind": "matrix", "payload": {"rules": []}}, "rules"),
        ({"kind": "matrix", "payload": {"rules": [{"min_priority": "P9", "levels": []}]}}, "rules[0].min_priority"),
        ({"kind": "matrix", "payload": {"rules": [{"min_priority": "P1", "levels": ["x"]}]}}, "rules[0].levels[0]"),
        ({"kind": "matrix", "payload": {"rules": [], "author": "me"}}, "author"),
        ({"kind": "contact_create", "payload": [1, 2]}, "payload"),
    ],
)
def test_proposals_are_validated_up_front(acme, admin, body, field):
    # when
    response = admin.post(PROPOSALS, body, content_type="application/json")
    # then
    assert response.status_code == 400, response.content
    assert field in response.json()
    with schema_context("acme"):
        assert not ChangeProposal.objects.exists()
        assert not EscalationMatrix.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="escalation.").exists()


def test_matrix_proposal_uses_matrix_publish_validation_without_publishing(acme):
    with schema_context("acme"):
        # given
        lead, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        bad = [{"min_priority": "P1", "levels": [{"contacts": [lead.pk], "channels": ["pigeon"], "wait_minutes": 5}]}]
        # when / then
        with pytest.raises(services.EscalationError) as err:
            proposals.proposal_create(actor=CUSTOMER, kind="matrix", payload={"rules": bad})
        assert err.value.field == "rules[0].levels[0].channels"
        good = proposals.proposal_create(actor=CUSTOMER, kind="matrix", payload={"rules": _rules(lead.pk)})
        assert good.payload == {"rules": _rules(lead.pk), "base_version": None}
        assert not EscalationMatrix.objects.exists()
        assert not AuditEvent.objects.filter(action="escalation.matrix.publish").exists()


def test_an_archive_proposal_is_refused_up_front_for_the_only_contact_of_a_level(acme, admin):
    with schema_context("acme"):
        lead, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        services.matrix_publish(actor=ACTOR, rules=_rules(lead.pk))
    response = admin.post(PROPOSALS, {"kind": "contact_archive", "contact": lead.pk}, content_type="application/json")
    assert response.status_code == 400 and "rules[0].levels[0]" in response.json()["contact"][0]


def test_an_update_proposal_changes_only_what_differs_and_masks_chat_urls(acme, admin, provider):
    # given
    with schema_context("acme"):
        lead, _ = contact_create(actor=ACTOR, data={"name": "Lead", "email": "lead@acme.example"})
        Contact.objects.filter(pk=lead.pk).update(verified_at="2030-01-01T00:00:00Z")
    # when
    proposed = admin.post(
        PROPOSALS,
        {
            "kind": "contact_update",
            "contact": lead.pk,
            "payload": {
                "name": "Lead",
                "email": "csirt@acme.example",
                "slack_webhook_url": "https://hooks.slack.com/services/T0/B0/sEcReT",
            },
        },
        content_type="application/json",
    )
    # then: only the changes are kept; customers' readers do not see the Slack URL's secret
    assert proposed.status_code == 201, proposed.content
    assert proposed.json()["payload"] == {"email": "csirt@acme.example", "slack_webhook_url": "(set)"}
    assert "sEcReT" in str(provider.get(PROVIDER).json()[0]["payload"])  # the approver sees what it applies
    # when: approved
    approved = provider.post(f"{PROVIDER}/{proposed.json()['id']}/approve")
    assert approved.status_code == 200, approved.content
    with schema_context("acme"):
        lead.refresh_from_db()
        assert (lead.email, lead.verified_at) == ("csirt@acme.example", None)  # a new address: verify again
        create = AuditEvent.objects.get(action="escalation.proposal.create")
        assert "sEcReT" not in str(create.data) and create.data["fields"] == ["email", "slack_webhook_url"]


def test_customer_admin_withdraws_others_cannot(acme, admin):
    csirt = _customer_user(acme, "csirt-w", Role.CSIRT)
    proposed = admin.post(
        PROPOSALS,
        {"kind": "contact_create", "payload": {"name": "Temp", "email": "temp@acme.example"}},
        content_type="application/json",
    )
    url = f"{PROPOSALS}/{proposed.json()['id']}/withdraw"
    assert csirt.post(url).status_code == 403
    withdrawn = admin.post(url)
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert admin.post(url).status_code == 400  # only pending ones
    assert admin.get(f"{PROPOSALS}?state=withdrawn").json()[0]["id"] == proposed.json()["id"]
    assert admin.get(f"{PROPOSALS}?state=nonsense").status_code == 400
    with schema_context("acme"):
        assert AuditEvent.objects.filter(action="escalation.proposal.withdraw").count() == 1
