"""Shared fixtures: a real test database (public + template schema), two customers made once per session.

``acme`` and ``globex`` are onboarded through the real onboarding service outside any test transaction, so
worker threads and other connections see them; what a test writes on top is rolled back after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from mdr.audit.services import Actor
from mdr.core.redis import redis_client


@dataclass
class TenantFixture:
    slug: str
    schema: str
    domain: str
    admin_username: str
    admin_password: str
    api_key: str

    def client(self) -> Client:
        return Client(HTTP_HOST=self.domain)


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """The test database, always (pytest-django only makes it when some collected test asks for ``db``; the
    browser and reliability suites use committed data through other processes and run alone too), then the
    provider row and the template schema."""
    from django.test.utils import setup_databases, teardown_databases

    from tenants.services import provider_ensure, template_schema_ensure

    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose, interactive=False, aliases={"default"}, serialized_aliases=set()
        )
        provider_ensure()
        template_schema_ensure()
    redis_client().flushdb()
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=request.config.option.verbose)


def _onboard(slug: str, name: str) -> TenantFixture:
    from tenants.services import customer_onboard

    result = customer_onboard(actor=Actor.system("tests"), name=name, slug=slug, language="en")
    return TenantFixture(
        slug=slug,
        schema=result.customer.schema_name,
        domain=result.domain,
        admin_username=result.admin_username,
        admin_password=result.admin_password,
        api_key=result.api_key,
    )


@pytest.fixture(scope="session")
def tenants_ab(django_db_setup, django_db_blocker) -> tuple[TenantFixture, TenantFixture]:
    with django_db_blocker.unblock():
        return _onboard("acme", "Acme Corp"), _onboard("globex", "Globex Corporation")


def _without_onboarding_refreshes() -> None:
    """Onboarding asks for each customer's first health refresh (committed with the session's customers, due 30 s
    later); tests that count due work start without them (the test's transaction restores them)."""
    from mdr.jobs.health import HEALTH_ACTOR
    from mdr.jobs.models import DueWork

    DueWork.objects.filter(kind=HEALTH_ACTOR).delete()


@pytest.fixture
def acme(tenants_ab, db) -> TenantFixture:
    _without_onboarding_refreshes()
    return tenants_ab[0]


@pytest.fixture
def globex(tenants_ab, db) -> TenantFixture:
    _without_onboarding_refreshes()
    return tenants_ab[1]


@pytest.fixture(autouse=True)
def _clean_redis(request):
    """Each test that touches the service starts with an empty Redis database (the tests' own number, never the
    demo's). Pure unit tests (adapters, matcher, calendar) leave it alone."""
    if {"db", "tenants_ab", "committed_customer"} & set(request.fixturenames):
        redis_client().flushdb()


@pytest.fixture(autouse=True)
def _default_language():
    """The test client runs requests in this thread, and a Japanese user's request leaves Japanese active: each
    test starts in the default language, as a worker does."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _back_to_public():
    """A request or schema_context left in a customer schema must not leak into the next test."""
    yield
    if connection.connection is not None or connection.schema_name != "public":
        connection.set_schema_to_public()


@pytest.fixture
def provider_client(db, tenants_ab):
    return Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)


@pytest.fixture
def provider_admin(db, tenants_ab):
    from mdr.accounts.models import Role
    from mdr.accounts.services import user_create

    user, password = user_create(
        actor=Actor.system("tests"), username="padmin", email="padmin@example.com", role=Role.PROVIDER_ADMIN
    )
    return user, password


@pytest.fixture
def committed_customer(django_db_setup, django_db_blocker, request):
    """A customer onboarded outside any test transaction (visible to other processes), dropped afterwards.

    Use it in tests that run real server processes; such tests must not take the ``db`` fixture.
    """
    from mdr.jobs.models import DueWork, FailedJob, Outbox, TimerIndex
    from tenants.models import ApiKey, Customer, Domain
    from tenants.services import customer_onboard

    slug = f"live-{request.node.name[5:25].replace('_', '-').strip('-')}".lower()
    with django_db_blocker.unblock():
        result = customer_onboard(actor=Actor.system("tests"), name=f"Live {slug}", slug=slug, language="en")
    fixture = TenantFixture(
        slug=slug,
        schema=result.customer.schema_name,
        domain=result.domain,
        admin_username=result.admin_username,
        admin_password=result.admin_password,
        api_key=result.api_key,
    )
    yield fixture
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{fixture.schema}" CASCADE')
        FailedJob.objects.filter(schema_name=fixture.schema).delete()
        DueWork.objects.filter(schema_name=fixture.schema).delete()
        TimerIndex.objects.filter(schema_name=fixture.schema).delete()
        Outbox.objects.filter(schema_name=fixture.schema).delete()
        ApiKey.objects.filter(customer__slug=slug).delete()
        Domain.objects.filter(tenant__slug=slug).delete()
        Customer.objects.filter(slug=slug).delete()


@pytest.fixture
def mail_server(settings):
    """Django's mail goes to a real SMTP server in this process; ``.messages`` holds what arrived."""
    from tests.mail import MailServer

    server = MailServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.stop()


def _client_schema(client: Client) -> str:
    from tenants.models import Domain

    host = (client.defaults.get("HTTP_HOST") or "").split(":")[0]
    if host == settings.MDR_BASE_DOMAIN:
        return "public"
    return Domain.objects.select_related("tenant").get(domain=host).tenant.schema_name


def login(client: Client, username: str, password: str) -> None:
    """Sign in through the real flow: the password, then (if the user has a device, which provider staff always
    get here while TOTP is required) a current code computed from the device's key."""
    from django_tenants.utils import schema_context

    from mdr.accounts.models import User
    from tests.totp import ensure_device, next_code

    schema = _client_schema(client)
    with schema_context(schema):
        user = User.objects.filter(username=username).first()
        if user is not None and schema == "public" and settings.MDR_PROVIDER_TOTP_REQUIRED:
            ensure_device(user)
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302, f"login failed for {username}: {response.status_code}"
    if response["Location"].startswith("/login/verify/"):
        with schema_context(schema):
            code = next_code(ensure_device(user))
        response = client.post("/login/verify/", {"token": code})
        assert response.status_code == 302, f"second factor failed for {username}: {response.status_code}"
    assert not response["Location"].startswith("/login/"), f"login failed for {username}: {response['Location']}"
