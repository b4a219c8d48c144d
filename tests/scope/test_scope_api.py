"""Contract API: the provider builds and publishes versions over HTTP; the customer reads its own."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.audit.models import AuditEvent
from tenants.models import Customer
from tests.conftest import login
from tests.factories import ApiKeyFactory, UserFactory

CSV = """kind,value,criticality,included,heartbeat_hours
host,web01,high,yes,
network,10.0.0.0/33,medium,yes,
log_source,Suricata,medium,yes,12
"""


def _staff(role: str) -> Client:
    UserFactory(username=f"staff-{role}", role=role)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, f"staff-{role}", "correct horse battery staple")
    return client


def test_provider_admin_builds_and_publishes_a_version(acme):
    client = _staff(Role.PROVIDER_ADMIN)
    base = "/api/provider/customers/acme/contract"
    # draft
    created = client.post(
        f"{base}/versions", {"service_tier": "gold", "response_mode": "collaborate"}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    number = created.json()["number"]
    assert created.json()["status"] == "draft"
    # scope items from CSV: the bad row is reported, the others kept
    imported = client.post(f"{base}/versions/{number}/scope-items", CSV, content_type="text/csv")
    assert imported.status_code == 200
    assert imported.json()["created"] == 2
    assert imported.json()["errors"][0]["row"] == 2
    # entitlements, with a field-named error first
    bad = client.put(
        f"{base}/versions/{number}/entitlements", [{"metric": "cpus", "limit": 1}], content_type="application/json"
    )
    assert bad.status_code == 400 and "entitlements[0].metric" in bad.json()
    ok = client.put(
        f"{base}/versions/{number}/entitlements",
        [
            {
                "metric": "endpoints",
                "limit": 500,
                "tolerance_pct": 10,
                "measurement": "unique_in_month",
                "over_limit_policy": "process_and_report",
            }
        ],
        content_type="application/json",
    )
    assert ok.status_code == 200
    # publish today
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()
    published = client.post(
        f"{base}/versions/{number}/publish", {"effective_date": today}, content_type="application/json"
    )
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    # history: the version cannot be changed any more
    frozen = client.patch(f"{base}/versions/{number}", {"service_tier": "x"}, content_type="application/json")
    assert frozen.status_code == 400 and "version" in frozen.json()
    past = client.post(f"{base}/versions", {}, content_type="application/json").json()["number"]
    refused = client.post(
        f"{base}/versions/{past}/publish", {"effective_date": "2020-01-01"}, content_type="application/json"
    )
    assert refused.status_code == 400 and "effective_date" in refused.json()
    # the customer sees who did it, in its own access log
    with schema_context("acme"):
        actors = set(AuditEvent.objects.filter(action__startswith="contract.").values_list("actor", flat=True))
    assert any(a.startswith("staff-provider_admin") for a in actors)


def test_staff_read_but_only_admins_write(acme):
    analyst = _staff(Role.ANALYST)
    assert analyst.get("/api/provider/customers/acme/contract").status_code == 200
    assert (
        analyst.post("/api/provider/customers/acme/contract/versions", {}, content_type="application/json").status_code
        == 403
    )
    assert analyst.get("/api/provider/customers/nosuch/contract").status_code == 404


def test_customer_reads_its_own_contract_only(acme, globex):
    admin = _staff(Role.PROVIDER_ADMIN)
    base = "/api/provider/customers/acme/contract/versions"
    number = admin.post(base, {}, content_type="application/json").json()["number"]
    admin.post(
        f"{base}/{number}/scope-items", [{"kind": "host", "value": "acme-secret-host"}], content_type="application/json"
    )
    admin.post(
        f"{base}/{number}/publish",
        {"effective_date": datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()},
        content_type="application/json",
    )
    acme_key = ApiKeyFactory(customer=Customer.objects.get(slug="acme"), scopes=["read"]).plaintext
    globex_key = ApiKeyFactory(customer=Customer.objects.get(slug="globex"), scopes=["read"]).plaintext
    mine = acme.client().get("/api/v1/contract", HTTP_AUTHORIZATION=f"Bearer {acme_key}")
    assert mine.status_code == 200
    assert [i["value"] for i in mine.json()["version"]["scope_items"]] == ["acme-secret-host"]
    theirs = globex.client().get("/api/v1/contract", HTTP_AUTHORIZATION=f"Bearer {globex_key}")
    assert "acme-secret-host" not in theirs.content.decode()
    assert acme.client().get("/api/v1/contract", HTTP_AUTHORIZATION=f"Bearer {globex_key}").status_code == 403
    # and the portal page shows it to a logged-in customer user
    portal = acme.client()
    login(portal, acme.admin_username, acme.admin_password)
    page = portal.get("/contract/")
    assert page.status_code == 200 and "acme-secret-host" in page.content.decode()
    # customers cannot write
    assert acme.client().post("/api/v1/contract", {}, HTTP_AUTHORIZATION=f"Bearer {acme_key}").status_code == 405


def test_asset_import_and_drift_over_http(acme):
    admin = _staff(Role.PROVIDER_ADMIN)
    csv = "hostname,ips,kind,groups\nws-01,10.1.1.1,endpoint,finance\nsrv-9,999.1.1.1,server,\n"
    result = admin.post("/api/provider/customers/acme/assets", csv, content_type="text/csv").json()
    assert result["created"] == 1 and result["errors"][0]["row"] == 2
    assert admin.get("/api/provider/customers/acme/drift").json() == []
    assert admin.post("/api/provider/customers/acme/alerts/reclassify", {}, content_type="application/json").json() == {
        "reclassified": 0
    }
