"""schemathesis over ``/api/schema/`` of both domain kinds, in process (the WSGI app, the test database).

Every operation of the provider schema (a provider admin's session) and of the customer schema (a customer
admin's session, and an API key with every scope) gets generated requests, valid and invalid, with a fixed seed.
Checks: no 5xx, status code documented, content type documented, body conforms to the documented schema.
``MDR_FUZZ_EXAMPLES`` sets the examples per operation and mode (CI: a few; ``make test-fuzz``: many more).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import login

EXAMPLES = int(os.environ.get("MDR_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MIN_CASES = 2000 if EXAMPLES >= 12 else 0
CASES: Counter[str] = Counter()  # generated cases sent, per credential kind


@dataclass
class Credentials:
    host: str
    headers: dict[str, str]
    path_parameters: dict[str, str]


def _session(client: Client) -> dict[str, str]:
    """Headers and cookies of the signed-in test client's session, with a CSRF token for unsafe methods."""
    token = _get_new_csrf_string()
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    cookies[settings.CSRF_COOKIE_NAME] = token
    return {"X-CSRFToken": token, "X-Test-Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


@pytest.fixture
def wsgi_app():
    """Django's WSGI handler as the server runs it, except that (as in Django's test client) a request does not
    close the connection that holds the test's transaction (the test client reconnects the signal after each of
    its own requests, so it is disconnected for each request here)."""
    handler = get_wsgi_application()

    def app(environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        if "HTTP_X_TEST_COOKIE" in environ:  # the werkzeug client only sends its jar's cookies for "localhost"
            environ["HTTP_COOKIE"] = environ.pop("HTTP_X_TEST_COOKIE")
        response = handler(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            response.close()

    yield app
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _fuzz(app, credentials: Credentials, label: str) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", app, headers={"Host": credentials.host})
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        params = {
            name: value for name, value in credentials.path_parameters.items() if "{" + name + "}" in operation.path
        }
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=params or None)

            @hsettings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            )
            @given(case=strategy)
            def run(case):
                CASES[label] += 1
                headers = {**credentials.headers, "Host": credentials.host}
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # one operation's failure must not hide the others'
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:3000]}")
    print(f"schemathesis {label}: {CASES[label]} cases")
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)


def test_provider_api_with_a_provider_admin_session(provider_client, provider_admin, acme, wsgi_app, settings):
    login(provider_client, *provider_admin)
    credentials = Credentials(
        host=settings.MDR_BASE_DOMAIN, path_parameters={"slug": acme.slug}, headers=_session(provider_client)
    )
    _fuzz(wsgi_app, credentials, "provider-session")


def test_customer_api_with_a_customer_admin_session(acme, wsgi_app):
    client = acme.client()
    login(client, acme.admin_username, acme.admin_password)
    _fuzz(wsgi_app, Credentials(host=acme.domain, path_parameters={}, headers=_session(client)), "customer-session")


def test_customer_api_with_an_api_key(acme, wsgi_app, settings):
    from tenants.models import Customer
    from tests.factories import ApiKeyFactory

    settings.MDR_INGEST_RATE_PER_SECOND, settings.MDR_INGEST_BURST = 100_000.0, 100_000
    key = ApiKeyFactory(customer=Customer.objects.get(slug="acme"), scopes=["ingest", "read"]).plaintext
    _fuzz(
        wsgi_app,
        Credentials(host=acme.domain, headers={"Authorization": f"Bearer {key}"}, path_parameters={}),
        "customer-key",
    )


def test_enough_cases_were_generated():
    """Runs after the three above (file order): together they sent at least MIN_CASES generated requests."""
    if set(CASES) != {"provider-session", "customer-session", "customer-key"}:
        pytest.skip("the schemathesis tests above did not all run")
    assert sum(CASES.values()) >= MIN_CASES, dict(CASES)


@pytest.mark.parametrize("body", [b"1.5", b"[]", b'"text"', b"null", b"true", b"[{}]"])
def test_json_bodies_that_are_not_objects_are_4xx_everywhere(provider_client, provider_admin, acme, body):
    """Every operation that takes a body, given JSON that is not an object: a 4xx, never a 500 from ``.get``."""
    from django.urls import get_resolver

    login(provider_client, *provider_admin)
    client = acme.client()
    login(client, acme.admin_username, acme.admin_password)
    for test_client, urlconf in ((provider_client, "mdr.urls_public"), (client, "mdr.urls_tenant")):
        for pattern in get_resolver(urlconf).url_patterns:
            route = str(getattr(pattern, "pattern", ""))
            if not route.startswith("api/") or "schema" in route or "docs" in route:
                continue
            path = "/" + route.replace("<slug:slug>", "acme")
            for name in ("<int:", "<str:", "<uuid:"):
                while name in path:
                    start = path.index(name)
                    value = "1" if name == "<int:" else "00000000-0000-0000-0000-000000000000"
                    path = path[:start] + value + path[path.index(">", start) + 1 :]
            for method in ("post", "put", "patch"):
                response = getattr(test_client, method)(path, data=body, content_type="application/json")
                assert response.status_code < 500, (method, path, body, response.content[:300])


def test_calendar_upload_with_a_base_that_is_not_an_id_is_400(provider_client, provider_admin, acme):
    login(provider_client, *provider_admin)
    response = provider_client.post(
        "/api/provider/customers/acme/sla/calendars?base=abc", data=b"BEGIN:VCALENDAR", content_type="text/calendar"
    )
    assert response.status_code == 400, response.content[:300]
