from django.conf import settings
from django.test import Client


def test_healthz_and_readyz_answer_on_provider_domain(db, tenants_ab):
    # given
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    # when
    live = client.get("/healthz")
    ready = client.get("/readyz")
    # then
    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_answers_on_customer_domain(acme):
    assert acme.client().get("/readyz").status_code == 200


def test_unknown_host_is_404(db, tenants_ab):
    assert Client(HTTP_HOST=f"nosuch.{settings.MDR_BASE_DOMAIN}").get("/readyz").status_code == 404


def test_openapi_schema_lists_the_public_operations(db, tenants_ab):
    # when
    response = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN).get("/api/schema/", {"format": "json"})
    # then
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/provider/customers/" in paths
    assert "/api/v1/whoami" in paths
    assert Client(HTTP_HOST=settings.MDR_BASE_DOMAIN).get("/api/docs/").status_code == 200
