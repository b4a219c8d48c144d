"""Tenant leaks outside the database rows: Redis keys (rate limits, cache), advisory lock keys, error bodies.

Dramatiq messages carry the tenant and one without it fails closed: tests/core/test_broker.py
(``test_message_without_tenant_is_refused_and_dead_lettered``, ``test_message_for_a_missing_schema_is_refused``).
Stored report PDFs (``ReportFile`` rows in the customer's schema) and every other object by id across customers:
tests/isolation/test_matrix.py.
"""

from datetime import UTC, date, datetime

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from mdr.core.redis import redis_client


def _keys() -> set[str]:
    return {k.decode() for k in redis_client().keys("*")}


def test_ingest_rate_limit_buckets_carry_the_schema(acme, globex):
    # given: an empty test Redis database
    assert not [k for k in _keys() if "ratelimit" in k]
    # when: each customer's key ingests once, on its own domain and on the provider domain
    body = b'{"title": "x", "severity": "low", "observed_at": "2026-01-01T00:00:00Z"}'
    for tenant in (acme, globex):
        response = tenant.client().post(
            "/api/v1/alerts", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tenant.api_key}"
        )
        assert response.status_code in (202, 400), response.content
    # then: one bucket per customer, each under its schema, none in public
    buckets = sorted(k for k in _keys() if ":ratelimit:" in k)
    assert len(buckets) == 2, buckets
    assert buckets[0].startswith("mdr:acme:ratelimit:apikey:")
    assert buckets[1].startswith("mdr:globex:ratelimit:apikey:")


def test_key_on_provider_domain_takes_from_its_own_customers_bucket(acme, provider_client):
    response = provider_client.post(
        "/api/v1/alerts", b"{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {acme.api_key}"
    )
    assert response.status_code < 500
    buckets = [k for k in _keys() if ":ratelimit:" in k]
    assert buckets and all(k.startswith("mdr:acme:ratelimit:") for k in buckets), buckets


def test_cache_keys_carry_the_schema(acme, globex):
    # when: the same cache key is written in two customers
    with schema_context("acme"):
        cache.set("probe", "acme-value", 30)
    with schema_context("globex"):
        assert cache.get("probe") is None
        cache.set("probe", "globex-value", 30)
    # then: two entries, each under its schema
    with schema_context("acme"):
        assert cache.get("probe") == "acme-value"
    probes = sorted(k for k in _keys() if k.endswith(":probe"))
    assert len(probes) == 2 and probes[0].startswith("acme:") and probes[1].startswith("globex:"), probes


def test_meter_advisory_lock_key_carries_the_schema(acme, globex):
    """Two customers metering hosts in the same month must not queue behind one lock (or share one)."""
    from mdr.scope.services import _meter_hosts

    month = date(2026, 1, 1)
    seen = {}
    for schema in ("acme", "globex"):
        with schema_context(schema), CaptureQueriesContext(connection) as queries:
            _meter_hosts([(_Alert(), f"{schema}-host", month, "server", "servers", _Ent())])
        locks = [q["sql"] for q in queries.captured_queries if "pg_advisory_xact_lock" in q["sql"]]
        assert len(locks) == 1, locks
        seen[schema] = locks[0]
    assert "acme" in seen["acme"] and "globex" in seen["globex"], seen
    assert seen["acme"] != seen["globex"]


class _Alert:
    observed_at = datetime(2026, 1, 5, tzinfo=UTC)


class _Ent:
    limit = 100
    tolerance_pct = 0
