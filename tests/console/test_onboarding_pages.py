"""The console's onboarding wizard and the suspend/resume page (provider admins only).

Customers onboarded here are made inside the test's transaction: PostgreSQL's DDL is transactional, so their
schema is rolled back with the rest (as in tests/tenants); the fixture below checks that none is left behind.
"""

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists

from mdr.accounts.models import Role
from tenants.constants import CustomerStatus
from tenants.models import Customer
from tests.conftest import login
from tests.factories import PASSWORD, UserFactory

NEW_SLUG = "initrode"


def _staff(username: str, role: str) -> Client:
    UserFactory(username=username, role=role)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, username, PASSWORD)
    return client


@pytest.fixture(scope="module", autouse=True)
def _no_schema_left_behind(django_db_setup, django_db_blocker):
    """After this module (every test transaction rolled back): the onboarded schema is gone, else drop it and fail."""
    yield
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        if not schema_exists(NEW_SLUG):
            return
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{NEW_SLUG}" CASCADE')
    pytest.fail(f"schema {NEW_SLUG!r} outlived its test")


@pytest.fixture
def padmin(acme) -> Client:
    return _staff("onb-padmin", Role.PROVIDER_ADMIN)


@pytest.fixture
def analyst_client(acme) -> Client:
    return _staff("onb-analyst", Role.ANALYST)


def _onboard(client: Client, **overrides):
    data = {"name": "Initrode KK", "slug": NEW_SLUG, "admin_email": "admin@initrode.example"}
    data |= {"timezone": "Asia/Tokyo", "language": "ja"} | overrides
    return client.post("/customers/new", data)


def test_home_links_new_customer_and_status_for_provider_admins(padmin, analyst_client):
    page = padmin.get("/").content.decode()
    assert 'data-testid="new-customer"' in page
    assert 'href="/customers/acme/status"' in page
    page = analyst_client.get("/").content.decode()
    assert 'data-testid="new-customer"' not in page
    assert "/customers/acme/status" not in page


def test_onboarding_page_shows_working_credentials_once(padmin):
    # given: the form, defaulting to Asia/Tokyo
    form = padmin.get("/customers/new")
    assert form.status_code == 200
    assert '<option value="Asia/Tokyo" selected>' in form.content.decode()
    # when
    response = _onboard(padmin)
    # then: rendered (not redirected), never cached, with the secrets and the "shown once" note
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    result = response.context["result"]
    page = response.content.decode()
    assert 'data-testid="shown-once"' in page
    for secret in (result.admin_username, result.admin_password, result.api_key):
        assert secret in page
    domain = f"{NEW_SLUG}.{settings.MDR_BASE_DOMAIN}"
    assert domain in page
    assert result.admin_password not in str(dict(padmin.session))
    customer = Customer.objects.get(slug=NEW_SLUG)
    assert (customer.timezone, customer.language) == ("Asia/Tokyo", "ja")
    # and the shown password logs in to the new portal, the shown key works for the API
    portal = Client(HTTP_HOST=domain)
    login(portal, result.admin_username, result.admin_password)
    assert portal.get("/").status_code == 200
    who = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN).get(
        "/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {result.api_key}"
    )
    assert who.status_code == 200, who.content


def test_taken_slug_is_shown_next_to_the_slug(padmin):
    response = _onboard(padmin, slug="acme")
    assert response.status_code == 400
    form = response.context["form"]
    assert "already taken" in " ".join(form.errors["slug"])
    assert "already taken" in response.content.decode()
    assert Customer.objects.filter(slug="acme").count() == 1


def test_bad_slug_and_missing_name_are_refused(padmin):
    response = _onboard(padmin, slug="public")
    assert response.status_code == 400
    assert "reserved" in " ".join(response.context["form"].errors["slug"])
    response = _onboard(padmin, name="")
    assert response.status_code == 400
    assert "name" in response.context["form"].errors
    assert not Customer.objects.filter(slug=NEW_SLUG).exists()


def test_analysts_get_403(analyst_client, acme):
    assert analyst_client.get("/customers/new").status_code == 403
    assert _onboard(analyst_client).status_code == 403
    assert not Customer.objects.filter(slug=NEW_SLUG).exists()
    assert analyst_client.get("/customers/acme/status").status_code == 403
    response = analyst_client.post("/customers/acme/suspend", {"reason": "x", "confirm": "on"})
    assert response.status_code == 403
    assert analyst_client.post("/customers/acme/resume").status_code == 403
    assert Customer.objects.get(slug="acme").status == CustomerStatus.ACTIVE


@pytest.mark.parametrize(
    "data",
    [{"reason": "", "confirm": "on"}, {"reason": "   ", "confirm": "on"}, {"reason": "unpaid invoices"}],
    ids=["no-reason", "blank-reason", "no-confirmation"],
)
def test_suspend_needs_a_reason_and_the_confirmation(padmin, acme, data):
    response = padmin.post("/customers/acme/suspend", data)
    assert response.status_code == 400
    assert Customer.objects.get(slug="acme").status == CustomerStatus.ACTIVE


def test_status_page_links_the_offboarding_page(padmin, acme):
    page = padmin.get("/customers/acme/status")
    assert page.status_code == 200
    assert 'href="/customers/acme/offboard"' in page.content.decode()
    assert 'data-testid="submit-suspend"' in page.content.decode()


def test_suspend_stops_the_admin_login_and_resume_restores_it(padmin, acme):
    # when: suspended
    response = padmin.post("/customers/acme/suspend", {"reason": "unpaid invoices", "confirm": "on"})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/customers/acme/status"
    assert Customer.objects.get(slug="acme").status == CustomerStatus.SUSPENDED
    page = padmin.get("/customers/acme/status").content.decode()
    assert "is suspended" in page
    assert 'data-testid="submit-resume"' in page
    refused = acme.client().post("/login/", {"username": acme.admin_username, "password": acme.admin_password})
    assert refused.status_code != 302
    # when: resumed
    response = padmin.post("/customers/acme/resume")
    # then
    assert response.status_code == 302
    assert Customer.objects.get(slug="acme").status == CustomerStatus.ACTIVE
    assert "is active again" in padmin.get("/customers/acme/status").content.decode()
    login(acme.client(), acme.admin_username, acme.admin_password)
