"""Who reaches which console page: allowed roles 200, other staff 403, anonymous to the login page, and nothing of
the console on a customer's domain (404)."""

import uuid

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.escalations import proposals
from mdr.incidents.models import Incident
from reports import services as reports
from tests.conftest import login

ACTOR = Actor(type="provider_staff", name="tests")


@pytest.fixture
def objects(acme):
    """One incident, one report draft and one pending proposal in acme."""
    from datetime import date

    with schema_context("acme"):
        incident = Incident.objects.create(title="Beaconing from WS-07", severity_id=4, priority="P2")
        report, _ = reports.report_generate_monthly(month=date(2025, 1, 1), actor=ACTOR, language="en")
        proposal = proposals.proposal_create(
            actor=Actor(type="customer_user", name="acme-admin"),
            kind="contact_create",
            payload={"name": "Night desk", "email": "night@acme.example", "language": "en"},
        )
    return {"incident": incident, "report": report, "proposal": proposal}


def _pages(objects) -> dict[str, str]:
    return {
        "queue": "/queue/",
        "incidents": "/customers/acme/incidents/",
        "incident": f"/customers/acme/incidents/{objects['incident'].pk}",
        "reports": "/customers/acme/reports/",
        "report": f"/customers/acme/reports/{objects['report'].pk}",
        "proposals": "/customers/acme/proposals/",
    }


@pytest.mark.parametrize("role_fixture", ["analyst", "provider_admin_client", "account_manager"])
def test_staff_read_pages_by_capability(request, objects, role_fixture):
    # given
    client = request.getfixturevalue(role_fixture)
    # when
    statuses = {name: client.get(url).status_code for name, url in _pages(objects).items()}
    # then: every provider role reads queue, incidents and reports; only provider admins (contract.manage) proposals
    expected = {name: 200 for name in statuses}
    if role_fixture != "provider_admin_client":
        expected["proposals"] = 403
    assert statuses == expected


def test_anonymous_goes_to_the_login_page(acme, objects):
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    for url in _pages(objects).values():
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    posted = client.post(f"/customers/acme/incidents/{objects['incident'].pk}/note", {"note-text": "x"})
    assert posted.status_code == 302 and "/login/" in posted["Location"]


def test_a_customer_session_cannot_reach_the_console(acme, objects):
    # given: the customer's admin logged in on the customer's own domain
    client = acme.client()
    login(client, acme.admin_username, acme.admin_password)
    # when / then: the console's paths do not exist on a customer's domain
    for url in _pages(objects).values():
        assert client.get(url).status_code == 404, url
    assert client.post(f"/customers/acme/proposals/{objects['proposal'].pk}/approve").status_code == 404


def test_actions_are_checked_per_capability(objects, account_manager, analyst):
    incident, report, proposal = objects["incident"], objects["report"], objects["proposal"]
    # account managers read incidents but do not triage or escalate
    for action in ("escalate", "note", "transition", "priority", "update"):
        response = account_manager.post(f"/customers/acme/incidents/{incident.pk}/{action}", {})
        assert response.status_code == 403, action
    # analysts do not decide on proposals
    for action in ("approve", "reject"):
        response = analyst.post(
            f"/customers/acme/proposals/{proposal.pk}/{action}", {f"{action}-{proposal.pk}-reason": "x"}
        )
        assert response.status_code == 403, action
    with schema_context("acme"):
        assert proposals.proposal_list(state="pending").count() == 1
    # both may manage reports (report.manage), no viewer role on the provider side exists to refuse
    assert account_manager.post(f"/customers/acme/reports/{report.pk}/refresh").status_code == 302


def test_actions_need_post_and_a_known_action(objects, analyst):
    incident = objects["incident"]
    assert analyst.get(f"/customers/acme/incidents/{incident.pk}/note").status_code == 405
    assert analyst.post(f"/customers/acme/incidents/{incident.pk}/merge", {}).status_code == 404
    assert analyst.post(f"/customers/acme/reports/{objects['report'].pk}/delete").status_code == 404


def test_unknown_customer_or_ids_are_404(objects, analyst, provider_admin_client):
    assert analyst.get("/customers/nope/incidents/").status_code == 404
    assert analyst.get(f"/customers/acme/incidents/{uuid.uuid4()}").status_code == 404
    assert analyst.get(f"/customers/acme/reports/{uuid.uuid4()}").status_code == 404
    assert provider_admin_client.post(f"/customers/acme/proposals/{uuid.uuid4()}/approve").status_code == 404


def test_a_post_without_the_csrf_token_is_refused(objects):
    # given: a browser-like client that enforces CSRF, signed in (password, then the second factor) with the token
    from mdr.accounts.models import Role
    from tests.factories import PASSWORD, UserFactory
    from tests.totp import ensure_device, next_code

    device = ensure_device(UserFactory(username="csrf-an", role=Role.ANALYST))
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN, enforce_csrf_checks=True)
    client.get("/login/")
    token = client.cookies["csrftoken"].value
    assert client.post("/login/", {"username": "csrf-an", "password": PASSWORD}).status_code == 403
    step = client.post("/login/", {"username": "csrf-an", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert step.status_code == 302 and step["Location"].startswith("/login/verify/")
    assert client.post("/login/verify/", {"token": next_code(device)}).status_code == 403
    token = client.cookies["csrftoken"].value
    signed_in = client.post("/login/verify/", {"token": next_code(device), "csrfmiddlewaretoken": token})
    assert signed_in.status_code == 302 and not signed_in["Location"].startswith("/login/")
    url = f"/customers/acme/incidents/{objects['incident'].pk}/note"
    # when / then
    assert client.post(url, {"note-text": "no token"}).status_code == 403
    token = client.cookies["csrftoken"].value
    done = client.post(url, {"note-text": "with token", "csrfmiddlewaretoken": token})
    assert done.status_code == 302 and not done["Location"].startswith("/login/")


def test_every_form_has_a_token_every_input_a_label_and_nothing_inline(objects, provider_admin_client):
    import re

    for url in _pages(objects).values():
        page = provider_admin_client.get(url).content.decode()
        forms = re.findall(r"<form method=\"post\".*?</form>", page, flags=re.S)
        assert forms, url
        for form in forms:
            assert 'name="csrfmiddlewaretoken"' in form, (url, form[:200])
        ids = re.findall(r"<(?:input|select|textarea)[^>]*\bid=\"([^\"]+)\"", page)
        for field_id in ids:
            assert f'for="{field_id}"' in page, (url, field_id)
        assert " style=" not in page and re.findall(r"<script(?![^>]*\bsrc=)", page) == [], url  # vendored files only
