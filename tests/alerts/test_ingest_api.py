"""POST /api/v1/alerts: formats, batches, per-item errors, dedup, limits, malformed bodies."""

import gzip
import json

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.alerts.models import Alert
from mdr.jobs.models import Outbox


def native(n: int = 0, **extra) -> dict:
    item = {
        "title": f"Suspicious PowerShell {n}",
        "severity": "high",
        "observed_at": "2026-11-20T10:00:00+09:00",
        "id": f"evt-{n}",
        "hosts": ["WS-01"],
        "ips": ["10.0.0.5"],
        "rule": {"id": "R-1", "name": "PowerShell encoded command"},
    }
    item.update(extra)
    return item


def post(tenant, body, *, content_type="application/json", key=None, path="/api/v1/alerts", **headers):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return tenant.client().post(
        path, data=data, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key or tenant.api_key}", **headers
    )


def test_single_object_is_accepted_and_persisted(acme):
    # when
    response = post(acme, native(1))
    # then
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 1 and body["duplicates"] == 0 and body["rejected"] == []
    alert_id = body["alerts"][0]["id"]
    with schema_context("acme"):
        alert = Alert.objects.get(pk=alert_id)
        assert alert.title == "Suspicious PowerShell 1"
        assert alert.severity_id == 4
        assert alert.hosts == ["ws-01"]
        assert alert.observed_offset_minutes == 540
        assert alert.raw["id"] == "evt-1"
    assert Outbox.objects.filter(schema_name="acme", payload__alert_ids=[alert_id]).exists()


def test_batch_keeps_valid_items_and_reports_invalid_ones(acme, insert_path):
    # given
    batch = [native(1), {"title": "no time", "severity": "low"}, native(2), "not an object", native(3, severity=9)]
    # when
    response = post(acme, batch, path="/api/v1/alerts?format=native")
    # then
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 3, 4]
    assert "observed_at" in body["rejected"][0]["errors"]
    assert "severity" in body["rejected"][2]["errors"]
    assert [a["index"] for a in body["alerts"]] == [0, 2]


@pytest.fixture(params=["direct", "copy"])
def insert_path(request, monkeypatch):
    """Run a test through both write paths: one multi-row INSERT (small batches) and COPY + merge (large)."""
    if request.param == "copy":
        monkeypatch.setattr("mdr.alerts.services.DIRECT_INSERT_MAX_ROWS", 0)
    return request.param


def test_duplicates_within_and_across_requests(acme, insert_path):
    # when
    first = post(acme, [native(1), native(1), native(2)]).json()
    second = post(acme, [native(2), native(3)]).json()
    # then
    assert [a["status"] for a in first["alerts"]] == ["created", "duplicate", "created"]
    assert first["alerts"][0]["id"] == first["alerts"][1]["id"]
    assert [a["status"] for a in second["alerts"]] == ["duplicate", "created"]
    assert second["alerts"][0]["id"] == first["alerts"][2]["id"]
    with schema_context("acme"):
        assert Alert.objects.count() == 3
        assert Alert.objects.get(pk=first["alerts"][0]["id"]).occurrence_count == 2
        assert Alert.objects.get(pk=first["alerts"][2]["id"]).occurrence_count == 2


def test_ndjson_with_a_broken_line_keeps_the_rest(acme):
    body = "\n".join([json.dumps(native(1)), "{broken", "", json.dumps(native(2))]) + "\n"
    response = post(acme, body, content_type="application/x-ndjson")
    assert response.status_code == 202
    out = response.json()
    assert out["accepted"] == 2
    assert out["rejected"][0]["index"] == 1
    assert "malformed JSON" in out["rejected"][0]["errors"]["item"][0]


def test_gzip_body(acme):
    body = gzip.compress(json.dumps([native(1), native(2)]).encode())
    response = post(acme, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 202
    assert response.json()["accepted"] == 2


def test_key_on_provider_domain_ingests_into_its_customer(acme, globex):
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    response = client.post(
        "/api/v1/alerts",
        data=json.dumps(native(7)),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {globex.api_key}",
    )
    assert response.status_code == 202
    with schema_context("globex"):
        assert Alert.objects.filter(external_id="evt-7").exists()
    with schema_context("acme"):
        assert not Alert.objects.filter(external_id="evt-7").exists()


def test_key_of_another_customer_is_refused(acme, globex):
    response = post(acme, native(1), key=globex.api_key)
    assert response.status_code == 403
    with schema_context("acme"):
        assert Alert.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status", "needle"),
    [
        (b"{not json", "application/json", {}, 400, "malformed JSON"),
        (b"\xff\xfe{}", "application/json", {}, 400, "UTF-8"),
        (b"[1, 2", "application/json", {}, 400, "malformed JSON"),
        (b"42", "application/json", {}, 400, "JSON object or array"),
        (b"", "application/json", {}, 400, "empty"),
        (b"{}", "application/xml", {}, 415, "Content-Type"),
        (b"not gzip", "application/json", {"HTTP_CONTENT_ENCODING": "gzip"}, 400, "gzip"),
        (b"{}", "application/json", {"HTTP_CONTENT_ENCODING": "br"}, 415, "Content-Encoding"),
        (b"[" * 5000 + b"]" * 5000, "application/json", {}, 400, ""),
    ],
)
def test_malformed_bodies_get_a_clear_4xx(acme, body, content_type, headers, status, needle):
    response = post(acme, body, content_type=content_type, **headers)
    assert response.status_code == status, response.content
    assert needle in response.json()["detail"]


def test_unknown_format_names_the_parameter(acme):
    response = post(acme, native(1), path="/api/v1/alerts?format=syslog")
    assert response.status_code == 400
    assert "format" in response.json()["errors"]


def test_undetectable_item_is_rejected_with_a_reason(acme):
    response = post(acme, [{"hello": "world"}, native(1)])
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    assert "format not recognised" in response.json()["rejected"][0]["errors"]["format"][0]


def test_body_over_the_limit_is_413(acme, settings):
    settings.MDR_INGEST_MAX_BODY_BYTES = 1000
    response = post(acme, [native(i) for i in range(20)])
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]


def test_gzip_bomb_is_413_not_memory(acme, settings):
    settings.MDR_INGEST_MAX_BODY_BYTES = 100_000
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    response = post(acme, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert "decompressed" in response.json()["detail"]


def test_oversized_item_in_a_batch_is_rejected_alone(acme, settings):
    settings.MDR_INGEST_MAX_ITEM_BYTES = 2000
    response = post(acme, [native(1), native(2, description="x" * 5000)])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert "2000 bytes" in body["rejected"][0]["errors"]["item"][0]


def test_oversized_single_item_is_413(acme, settings):
    settings.MDR_INGEST_MAX_ITEM_BYTES = 2000
    response = post(acme, native(2, description="x" * 5000))
    assert response.status_code == 413


def test_too_many_items_is_413(acme, settings):
    settings.MDR_INGEST_MAX_ITEMS = 3
    response = post(acme, [native(i) for i in range(4)])
    assert response.status_code == 413
    assert "limit is 3" in response.json()["detail"]


def test_deep_nesting_is_rejected_per_item(acme):
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    response = post(acme, [native(1, extra=deep), native(2)])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert "nested deeper" in body["rejected"][0]["errors"]["item"][0]


def test_nul_bytes_are_stored_without_error(acme, insert_path):
    response = post(acme, [native(1, description="a\u0000b", note="x\u0000y")])
    assert response.status_code == 202
    with schema_context("acme"):
        alert = Alert.objects.get()
        assert alert.description == "ab"
        assert alert.raw["note"] == "xy"


def test_out_of_range_times_are_rejected(acme):
    response = post(
        acme, [native(1, observed_at="0001-01-01T00:00:00Z"), native(2, observed_at="9999-12-31T00:00:00Z")]
    )
    assert response.status_code == 202
    assert response.json()["accepted"] == 0
    assert all("out of range" in r["errors"]["observed_at"][0] for r in response.json()["rejected"])


def test_read_key_cannot_ingest_and_users_cannot_ingest(acme):
    from tenants.models import Customer
    from tests.conftest import login
    from tests.factories import ApiKeyFactory

    read_key = ApiKeyFactory(customer=Customer.objects.get(slug="acme"), scopes=["read"]).plaintext
    assert post(acme, native(1), key=read_key).status_code == 403
    client = acme.client()
    login(client, acme.admin_username, acme.admin_password)
    assert client.post("/api/v1/alerts", data=json.dumps(native(1)), content_type="application/json").status_code == 403
