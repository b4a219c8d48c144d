"""Escalation contacts and change proposals of one customer are invisible and untouchable from another: by its
admin's session, by its API key, and by provider staff naming the other customer."""

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.audit.services import Actor
from mdr.escalations import proposals
from mdr.escalations.contacts import contact_create
from mdr.escalations.models import ChangeProposal, Contact
from tenants.models import Customer
from tests.conftest import login
from tests.factories import ApiKeyFactory, UserFactory

ACTOR = Actor(type="provider_staff", name="padmin#1")


@pytest.fixture
def globex_data(globex, acme):
    """A contact and a pending proposal in globex, and a contact in acme. Ids are per schema, so the globex contact
    is made until its id is not also an acme contact's (otherwise a 404 test would pass for the wrong reason)."""
    with schema_context("acme"):
        acme_contact, _ = contact_create(actor=ACTOR, data={"name": "Acme desk", "email": "desk@acme.example"})
    with schema_context("globex"):
        contact, _ = contact_create(actor=ACTOR, data={"name": "Globex desk", "email": "desk@globex.example"})
        if contact.pk == acme_contact.pk:
            contact, _ = contact_create(actor=ACTOR, data={"name": "Globex desk", "email": "desk@globex.example"})
        proposal = proposals.proposal_create(
            actor=Actor(type="customer_user", name="globex-admin#1"),
            kind="contact_update",
            contact=contact,
            payload={"phone": "+1 555 0100"},
        )
    with schema_context("acme"):
        assert not Contact.objects.filter(pk=contact.pk).exists()
    return {"contact": contact, "proposal": proposal}


@pytest.fixture
def acme_admin(acme) -> Client:
    client = acme.client()
    login(client, acme.admin_username, acme.admin_password)
    return client


@pytest.fixture
def acme_key(acme) -> str:
    return ApiKeyFactory(customer=Customer.objects.get(slug="acme"), scopes=["read"]).plaintext


def test_globex_contact_is_404_and_unlisted_for_acme(globex_data, acme, acme_admin, acme_key):
    pk = globex_data["contact"].pk
    by_key = {"HTTP_AUTHORIZATION": f"Bearer {acme_key}"}
    # when / then: detail
    assert acme_admin.get(f"/api/v1/contacts/{pk}").status_code == 404
    assert acme.client().get(f"/api/v1/contacts/{pk}", **by_key).status_code == 404
    # when / then: lists
    for response in (acme_admin.get("/api/v1/contacts"), acme.client().get("/api/v1/contacts", **by_key)):
        assert response.status_code == 200
        assert [c["name"] for c in response.json()] == ["Acme desk"]
        assert "Globex" not in response.content.decode()


def test_globex_proposal_is_404_and_unlisted_for_acme(globex_data, acme, acme_admin, acme_key):
    proposal_id = globex_data["proposal"].pk
    by_key = {"HTTP_AUTHORIZATION": f"Bearer {acme_key}"}
    # detail and withdraw: not found
    assert acme_admin.get(f"/api/v1/escalation/proposals/{proposal_id}").status_code == 404
    assert acme.client().get(f"/api/v1/escalation/proposals/{proposal_id}", **by_key).status_code == 404
    assert acme_admin.post(f"/api/v1/escalation/proposals/{proposal_id}/withdraw").status_code == 404
    # lists: empty
    assert acme_admin.get("/api/v1/escalation/proposals").json() == []
    assert acme.client().get("/api/v1/escalation/proposals", **by_key).json() == []
    with schema_context("globex"):
        assert ChangeProposal.objects.get(pk=proposal_id).state == "pending"


def test_acme_admin_cannot_propose_changes_to_a_globex_contact(globex_data, acme_admin):
    response = acme_admin.post(
        "/api/v1/escalation/proposals",
        {"kind": "contact_archive", "contact": globex_data["contact"].pk},
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json() == {"contact": ["no such contact"]}
    with schema_context("acme"):
        assert not ChangeProposal.objects.exists()


def test_provider_naming_acme_cannot_reach_globex_objects(globex_data, acme):
    # given
    UserFactory(username="pa-iso", role=Role.PROVIDER_ADMIN)
    provider = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(provider, "pa-iso", "correct horse battery staple")
    base = "/api/provider/customers/acme"
    contact_id, proposal_id = globex_data["contact"].pk, globex_data["proposal"].pk
    # when / then
    assert provider.get(f"{base}/contacts/{contact_id}").status_code == 404
    assert provider.patch(
        f"{base}/contacts/{contact_id}", {"role": "x"}, content_type="application/json"
    ).status_code == (404)
    assert provider.post(f"{base}/contacts/{contact_id}/archive").status_code == 404
    assert provider.post(f"{base}/contacts/{contact_id}/rotate-secret").status_code == 404
    assert provider.post(f"{base}/escalation/proposals/{proposal_id}/approve").status_code == 404
    assert provider.post(f"{base}/escalation/proposals/{proposal_id}/reject", {"reason": "x"}).status_code == 404
    assert provider.get(f"{base}/escalation/proposals").json() == []
    assert [c["name"] for c in provider.get(f"{base}/contacts").json()] == ["Acme desk"]
    with schema_context("globex"):
        assert ChangeProposal.objects.get(pk=proposal_id).state == "pending"
        assert Contact.objects.get(pk=contact_id).archived_at is None


def test_acme_key_cannot_use_customer_apis_on_globex_domain(globex_data, globex, acme_key):
    response = globex.client().get("/api/v1/contacts", HTTP_AUTHORIZATION=f"Bearer {acme_key}")
    assert response.status_code == 403


def test_viewer_and_read_key_cannot_propose(acme, acme_key):
    with schema_context("acme"):
        UserFactory(username="viewer-iso", role=Role.VIEWER)
    viewer = acme.client()
    login(viewer, "viewer-iso", "correct horse battery staple")
    body = {"kind": "contact_create", "payload": {"name": "X", "email": "x@acme.example"}}
    assert viewer.post("/api/v1/escalation/proposals", body, content_type="application/json").status_code == 403
    assert (
        acme.client()
        .post(
            "/api/v1/escalation/proposals",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {acme_key}",
        )
        .status_code
        == 403
    )
