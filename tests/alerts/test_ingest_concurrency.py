"""Ingest under real concurrency: a gunicorn server, many client threads, the test database."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django_tenants.utils import schema_context

from mdr.alerts.models import Alert
from tenants.models import Customer
from tests.alerts.test_ingest_api import native
from tests.live import process_env, request, start_web


@pytest.fixture
def web(committed_customer, tmp_path):
    proc, port = start_web(process_env(), tmp_path)
    yield port
    proc.stop()


def _post(port, tenant, body: bytes, **headers):
    return request(
        port,
        "POST",
        "/api/v1/alerts",
        host=tenant.domain,
        body=body,
        headers={"Authorization": f"Bearer {tenant.api_key}", "Content-Type": "application/json", **headers},
    )


def _alerts(tenant, blocker):
    with blocker.unblock(), schema_context(tenant.schema):
        return list(Alert.objects.values_list("dedup_key", "occurrence_count"))


def test_16_clients_replaying_one_batch_create_no_duplicate_rows(web, committed_customer, django_db_blocker):
    # given
    body = json.dumps([native(i) for i in range(200)]).encode()
    # when
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: _post(web, committed_customer, body), range(16)))
    # then
    assert {r.status for r in results} == {202}
    created = sum(r.body["accepted"] for r in results)
    assert created == 200
    assert sum(r.body["duplicates"] for r in results) == 15 * 200
    rows = _alerts(committed_customer, django_db_blocker)
    assert len(rows) == len({k for k, _ in rows}) == 200
    assert sum(c for _, c in rows) == 16 * 200
    ids = {tuple(a["id"] for a in r.body["alerts"]) for r in results}
    assert len(ids) == 1  # every client got the same ids, in order


def test_16_clients_with_one_idempotency_key_get_one_answer(web, committed_customer, django_db_blocker):
    body = json.dumps([native(i) for i in range(100)]).encode()
    with ThreadPoolExecutor(16) as pool:
        results = list(
            pool.map(lambda _: _post(web, committed_customer, body, **{"Idempotency-Key": "k-1"}), range(16))
        )
    assert {r.status for r in results} == {202}
    assert {json.dumps(r.body, sort_keys=True) for r in results} == {json.dumps(results[0].body, sort_keys=True)}
    assert results[0].body["accepted"] == 100
    assert sum(1 for r in results if r.headers.get("idempotent-replayed") == "true") == 15
    rows = _alerts(committed_customer, django_db_blocker)
    assert len(rows) == 100
    assert {c for _, c in rows} == {1}


def test_rate_limit_holds_under_concurrency(web, committed_customer, django_db_blocker):
    # given: a burst of 10 and (practically) no refill
    with django_db_blocker.unblock():
        Customer.objects.filter(slug=committed_customer.slug).update(ingest_burst=10, ingest_rate_per_second=0.001)
    body = json.dumps(native(1)).encode()
    # when
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: _post(web, committed_customer, body), range(40)))
    # then
    statuses = sorted(r.status for r in results)
    assert statuses.count(202) == 10
    assert statuses.count(429) == 30
    limited = next(r for r in results if r.status == 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-limit"] == "10"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert "rate limit" in limited.body["detail"]
