import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from mdr.accounts import keys
from mdr.accounts.models import Role, User
from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.scope.models import Contract
from tenants.models import ApiKey, Customer, Domain
from tenants.services import OnboardingError, customer_onboard
from tests.conftest import login


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def _footprint() -> tuple[int, int, int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace")
        schemas = cursor.fetchone()[0]
    return schemas, Customer.objects.count(), Domain.objects.count(), ApiKey.objects.count()


def test_onboarding_creates_a_complete_isolated_customer(db, tenants_ab, settings):
    # when
    result = customer_onboard(actor=Actor.system("test"), name="Initech KK", slug="initech", language="ja")
    # then: a schema cloned from the template, with every table of the template
    assert result.customer.schema_name == "initech"
    assert schema_exists("initech")
    assert _tables("initech") == _tables(settings.TENANT_BASE_SCHEMA)
    assert result.domain == f"initech.{settings.MDR_BASE_DOMAIN}"
    assert Domain.objects.get(domain=result.domain).tenant == result.customer
    # and the admin exists in the customer's schema only
    with schema_context("initech"):
        admin = User.objects.get(username=result.admin_username)
        assert admin.role == Role.CUSTOMER_ADMIN
        assert admin.check_password(result.admin_password)
        assert Contract.objects.get().status == "draft"
        assert AuditEvent.objects.filter(action="customer.onboard").exists()
    assert not User.objects.filter(username=result.admin_username).exists()
    # and the key is stored as a digest only
    key = ApiKey.objects.get(customer=result.customer)
    assert key.digest == keys.digest(result.api_key)
    assert result.api_key not in {key.digest, key.public_id}
    assert key.scopes == ["ingest"]
    # and its row on the console's customer list is asked for (a worker fills it in)
    from mdr.jobs.health import HEALTH_ACTOR
    from mdr.jobs.models import DueWork

    assert DueWork.objects.filter(schema_name="initech", kind=HEALTH_ACTOR).count() == 1


def test_onboard_command_prints_one_json_object(db, tenants_ab):
    # when
    out = StringIO()
    call_command("onboard_customer", "--name", "Hooli", "--slug", "hooli", "--json", stdout=out)
    # then
    data = json.loads(out.getvalue())
    assert {"schema", "domain", "api_key", "admin_username", "admin_password"} <= data.keys()
    assert data["schema"] == "hooli"
    assert data["api_key"].startswith("mdr_")


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "a",
        "public",
        "www",
        "api",
        "admin",
        "tenant-template",
        "Acme",
        "1acme",
        "-acme",
        "acme-",
        "ac--me",
        "ac_me",
        "a" * 41,
        "café",
        "a b",
        'x";drop schema public;--',
        "pg-x"[:0] + "pg_x",
        "information-schema",
    ],
)
def test_bad_slugs_are_refused_and_leave_nothing_behind(db, tenants_ab, slug):
    # given
    before = _footprint()
    # when
    with pytest.raises(OnboardingError) as err:
        customer_onboard(actor=Actor.system("test"), name="Bad", slug=slug)
    # then
    assert err.value.field == "slug"
    assert _footprint() == before


def test_taken_slug_is_refused(acme):
    with pytest.raises(OnboardingError, match="already taken"):
        customer_onboard(actor=Actor.system("test"), name="Acme again", slug="acme")


def test_failure_midway_leaves_no_half_made_schema(db, tenants_ab, monkeypatch):
    # given: key issuance, the last step of onboarding, fails
    before = _footprint()

    def broken(**kwargs):
        raise RuntimeError("key store unavailable")

    monkeypatch.setattr("tenants.services.apikey_create", broken)
    # when
    with pytest.raises(RuntimeError):
        customer_onboard(actor=Actor.system("test"), name="Umbrella", slug="umbrella")
    # then
    assert not schema_exists("umbrella")
    assert _footprint() == before


def test_command_reports_bad_slug_with_the_field(db, tenants_ab):
    with pytest.raises(CommandError, match="slug: slug 'public' is reserved"):
        call_command("onboard_customer", "--name", "X", "--slug", "public", "--json", stdout=StringIO())


def test_provider_admin_onboards_through_the_api(provider_client, provider_admin):
    # given
    login(provider_client, provider_admin[0].username, provider_admin[1])
    # when
    response = provider_client.post(
        "/api/provider/customers/",
        {"name": "Stark Industries", "slug": "stark"},
        content_type="application/json",
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["schema"] == "stark"
    assert body["api_key"].startswith("mdr_")
    assert schema_exists("stark")


def test_api_refuses_bad_slug_naming_the_field(provider_client, provider_admin):
    login(provider_client, provider_admin[0].username, provider_admin[1])
    response = provider_client.post(
        "/api/provider/customers/", {"name": "X", "slug": "admin"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "slug" in response.json()["errors"]


def test_api_refuses_missing_fields(provider_client, provider_admin):
    login(provider_client, provider_admin[0].username, provider_admin[1])
    response = provider_client.post("/api/provider/customers/", {}, content_type="application/json")
    assert response.status_code == 400
    assert {"name", "slug"} <= response.json().keys()


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ACCOUNT_MANAGER])
def test_only_provider_admins_onboard(provider_client, tenants_ab, role):
    from mdr.accounts.services import user_create

    user, password = user_create(actor=Actor.system("t"), username=f"u-{role}", email="", role=role)
    login(provider_client, user.username, password)
    response = provider_client.post(
        "/api/provider/customers/", {"name": "X", "slug": "xcorp"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not schema_exists("xcorp")


def test_anonymous_cannot_onboard(provider_client):
    response = provider_client.post(
        "/api/provider/customers/", {"name": "X", "slug": "xcorp"}, content_type="application/json"
    )
    assert response.status_code in (401, 403)
    assert not schema_exists("xcorp")
