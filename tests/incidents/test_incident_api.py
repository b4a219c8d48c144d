"""Incident API: analysts act over the provider API; the customer sees its incidents and only the
customer-visible timeline."""

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.incidents.models import Incident
from tenants.models import Customer
from tests.conftest import login
from tests.factories import ApiKeyFactory, UserFactory
from tests.incidents.test_incidents import _alert
from tests.scope.helpers import new_version
from tests.scope.test_classification import ITEMS, ingest_and_process


def test_analyst_works_an_incident_and_the_customer_sees_only_what_is_meant_for_it(acme, globex):
    with schema_context("acme"):
        new_version(items=ITEMS)
    alerts = ingest_and_process(acme, [_alert(1, "web01"), _alert(2, "db01", 1)])
    with schema_context("acme"):
        incident = Incident.objects.get(correlation_key="web01")
    UserFactory(username="an9", role=Role.ANALYST)
    analyst = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(analyst, "an9", "correct horse battery staple")
    base = f"/api/provider/customers/acme/incidents/{incident.pk}"
    assert (
        analyst.post(f"{base}/transition", {"to": "investigating"}, content_type="application/json").status_code == 200
    )
    bad = analyst.post(f"{base}/transition", {"to": "closed"}, content_type="application/json")
    assert bad.status_code == 400 and "state" in bad.json()
    analyst.post(f"{base}/note", {"text": "internal: lateral movement from db01?"}, content_type="application/json")
    analyst.post(
        f"{base}/note", {"text": "We are containing WS-01.", "customer_visible": True}, content_type="application/json"
    )
    no_reason = analyst.post(f"{base}/priority", {"priority": "P1"}, content_type="application/json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    detail = analyst.get(base).json()
    assert detail["state"] == "investigating" and len(detail["alert_ids"]) == 1
    assert any("lateral movement" in e["text"] for e in detail["timeline"])
    created = analyst.post(
        "/api/provider/customers/acme/incidents",
        {"title": "by hand", "alert_ids": [str(alerts[1].pk)]},
        content_type="application/json",
    )
    assert created.status_code == 201 and created.json()["alert_count"] == 1
    # the customer
    key = ApiKeyFactory(customer=Customer.objects.get(slug="acme"), scopes=["read"]).plaintext
    mine = acme.client().get(f"/api/v1/incidents/{incident.pk}", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    texts = [e["text"] for e in mine["timeline"]]
    assert "We are containing WS-01." in texts
    assert not any("lateral movement" in t for t in texts)
    assert len(acme.client().get("/api/v1/incidents", HTTP_AUTHORIZATION=f"Bearer {key}").json()) == 3
    # another customer: not found, never the data
    other = ApiKeyFactory(customer=Customer.objects.get(slug="globex"), scopes=["read"]).plaintext
    response = globex.client().get(f"/api/v1/incidents/{incident.pk}", HTTP_AUTHORIZATION=f"Bearer {other}")
    assert response.status_code == 404 and "web01" not in response.content.decode()
    assert analyst.get(f"/api/provider/customers/globex/incidents/{incident.pk}").status_code == 404
