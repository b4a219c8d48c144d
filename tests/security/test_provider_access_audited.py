"""Every provider page and provider API route that shows one customer's data (a ``<slug>`` in the URL) writes an
audit row into that customer's own schema when provider staff read it: the customer's access log shows who looked.
Routes are taken from the URL configuration, so a new one is covered without editing this test."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from mdr.audit.models import ActorType, AuditEvent
from tests.conftest import login

# Routes under a customer slug that show nothing of the customer's own data, each with the reason.
NOT_CUSTOMER_DATA: dict[str, str] = {
    "console-customer-status": "the provider's own record of the customer (public Customer row), nothing of its schema",
    "console-customer-offboard": "the provider's offboarding runs (public table), nothing of the customer's schema",
}


def _slug_routes() -> list[tuple[str, str]]:
    """(name, route) of every GET-able public route whose only parameter is the customer slug."""
    found = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if "<slug:slug>" in route and route.count("<") == 1 and p.name:
                    found.append((p.name, route))

    walk(get_resolver(settings.PUBLIC_SCHEMA_URLCONF).url_patterns)
    return sorted(found)


ROUTES = _slug_routes()


def test_the_routes_were_found():
    assert len(ROUTES) >= 10, ROUTES


@pytest.mark.parametrize(("name", "route"), ROUTES, ids=[n for n, _ in ROUTES])
def test_a_provider_read_of_customer_data_is_audited_in_the_customer_schema(acme, provider_admin, name, route):
    if name in NOT_CUSTOMER_DATA:
        pytest.skip(NOT_CUSTOMER_DATA[name])
    user, password = provider_admin
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, user.username, password)
    with schema_context(acme.schema):
        before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    # when
    response = client.get("/" + route.replace("<slug:slug>", acme.slug))
    # then
    if response.status_code != 200:
        pytest.skip(f"GET answers {response.status_code} (not a read)")
    with schema_context(acme.schema):
        rows = list(
            AuditEvent.objects.filter(id__gt=before, actor_type=ActorType.PROVIDER_STAFF).values_list(
                "action", flat=True
            )
        )
    assert rows, f"GET {route} showed acme's data to provider staff without an audit row in acme's schema"
