"""GET /api/v1/alerts and /api/v1/alerts/{id}: filters, keyset pagination, raw payload, who may read."""

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.audit.models import AuditEvent
from tenants.models import Customer
from tests.alerts.test_ingest_api import native, post
from tests.conftest import login
from tests.factories import ApiKeyFactory, UserFactory


def _read_key(slug: str) -> str:
    return ApiKeyFactory(customer=Customer.objects.get(slug=slug), scopes=["read"]).plaintext


def _get(tenant, path, key=None, **params):
    return tenant.client().get(path, params, HTTP_AUTHORIZATION=f"Bearer {key}")


def _seed(acme):
    items = [
        native(1, severity="critical", observed_at="2026-11-20T01:00:00Z", hosts=["db-01"], title="Mimikatz"),
        native(2, severity="low", observed_at="2026-11-20T02:00:00Z", hosts=["ws-01"]),
        native(3, severity="high", observed_at="2026-11-20T03:00:00+09:00", hosts=["ws-02"]),
        native(4, severity="medium", observed_at="2026-11-20T04:00:00Z", hosts=["db-01"]),
    ]
    assert post(acme, items).json()["accepted"] == 4


def test_list_is_newest_first_with_filters(acme):
    _seed(acme)
    key = _read_key("acme")
    everything = _get(acme, "/api/v1/alerts", key).json()["results"]
    assert [a["severity"] for a in everything] == ["medium", "low", "critical", "high"]
    assert everything[-1]["observed_at"] == "2026-11-20T03:00:00+09:00"  # source offset preserved
    by_host = _get(acme, "/api/v1/alerts", key, host="DB-01").json()["results"]
    assert {a["title"] for a in by_host} == {"Mimikatz", "Suspicious PowerShell 4"}
    severe = _get(acme, "/api/v1/alerts", key, severity="critical,high").json()["results"]
    assert len(severe) == 2
    window = _get(acme, "/api/v1/alerts", key, since="2026-11-20T01:30:00Z", until="2026-11-20T03:30:00Z")
    assert len(window.json()["results"]) == 1
    text = _get(acme, "/api/v1/alerts", key, q="mimi").json()["results"]
    assert [a["title"] for a in text] == ["Mimikatz"]
    assert _get(acme, "/api/v1/alerts", key, source="native", status="new").json()["results"]
    assert _get(acme, "/api/v1/alerts", key, scope_status="pending").json()["results"]


def test_cursor_pagination_walks_every_alert_once(acme):
    post(acme, [native(i, observed_at=f"2026-11-20T00:{i:02d}:00Z") for i in range(23)])
    key = _read_key("acme")
    seen, cursor = [], None
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = _get(acme, "/api/v1/alerts", key, **params).json()
        seen += [a["id"] for a in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 23


def test_bad_filters_name_the_parameter(acme):
    key = _read_key("acme")
    for params, field in [
        ({"severity": "extreme"}, "severity"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-20T00:00:00"}, "since"),
        ({"status": "open"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "!!!"}, "cursor"),
        ({"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"}, "until"),
    ]:
        response = _get(acme, "/api/v1/alerts", key, **params)
        assert response.status_code == 400, params
        assert field in response.json(), (params, response.json())


def test_detail_has_the_raw_payload(acme):
    alert_id = post(acme, native(1, vendor_field={"k": [1, 2]})).json()["alerts"][0]["id"]
    detail = _get(acme, f"/api/v1/alerts/{alert_id}", _read_key("acme")).json()
    assert detail["raw"]["vendor_field"] == {"k": [1, 2]}
    assert detail["rule_name"] == "PowerShell encoded command"


def test_other_customers_alert_is_404_never_its_data(acme, globex):
    alert_id = post(acme, native(1)).json()["alerts"][0]["id"]
    response = _get(globex, f"/api/v1/alerts/{alert_id}", _read_key("globex"))
    assert response.status_code == 404
    assert "Suspicious" not in response.content.decode()
    assert _get(globex, "/api/v1/alerts", _read_key("globex")).json()["results"] == []
    assert _get(acme, "/api/v1/alerts/not-a-uuid", _read_key("acme")).status_code == 404


def test_ingest_key_cannot_read(acme):
    assert _get(acme, "/api/v1/alerts", acme.api_key).status_code == 403


def test_customer_users_read_on_their_domain(acme):
    _seed(acme)
    with schema_context("acme"):
        UserFactory(username="viewer1", role=Role.VIEWER)
    client = acme.client()
    login(client, "viewer1", "correct horse battery staple")
    assert len(client.get("/api/v1/alerts").json()["results"]) == 4


def test_provider_staff_read_a_customer_explicitly_and_it_is_audited(acme):
    _seed(acme)
    UserFactory(username="analyst1", role=Role.ANALYST)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "analyst1", "correct horse battery staple")
    assert client.get("/api/v1/alerts").status_code == 400  # which customer?
    response = client.get("/api/v1/alerts", {"customer": "acme"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 4
    with schema_context("acme"):
        event = AuditEvent.objects.filter(action="provider.alerts.list").get()
        assert event.actor.startswith("analyst1")
    assert client.get("/api/v1/alerts", {"customer": "nosuch"}).status_code == 404


def test_list_query_count_is_constant(acme, django_assert_max_num_queries):
    _seed(acme)
    key = _read_key("acme")
    with django_assert_max_num_queries(6):
        assert len(_get(acme, "/api/v1/alerts", key, limit=100).json()["results"]) == 4
