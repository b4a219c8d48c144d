import json

from django_tenants.utils import schema_context

from mdr.alerts.models import Alert
from tests.alerts.test_ingest_api import native, post


def test_same_key_and_body_returns_the_first_response(acme):
    # given
    body = [native(1), native(2)]
    first = post(acme, body, HTTP_IDEMPOTENCY_KEY="batch-42")
    # when
    again = post(acme, body, HTTP_IDEMPOTENCY_KEY="batch-42")
    # then
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert [a["status"] for a in again.json()["alerts"]] == ["created", "created"]
    with schema_context("acme"):
        assert Alert.objects.count() == 2
        assert set(Alert.objects.values_list("occurrence_count", flat=True)) == {1}


def test_same_key_with_another_body_is_409(acme):
    post(acme, [native(1)], HTTP_IDEMPOTENCY_KEY="k1")
    response = post(acme, [native(2)], HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 409
    assert "different request body" in response.json()["detail"]
    with schema_context("acme"):
        assert Alert.objects.count() == 1


def test_keys_are_per_customer(acme, globex):
    # given: the same key used by two customers is two different requests
    a = post(acme, [native(1)], HTTP_IDEMPOTENCY_KEY="shared")
    g = post(globex, [native(9)], HTTP_IDEMPOTENCY_KEY="shared")
    assert a.status_code == g.status_code == 202
    assert g.json()["alerts"][0]["id"] != a.json()["alerts"][0]["id"]
    assert "Idempotent-Replayed" not in g


def test_key_too_long_is_refused(acme):
    response = post(acme, [native(1)], HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert response.status_code == 400
    assert "Idempotency-Key" in json.loads(response.content)["errors"]


def test_expired_keys_are_pruned_and_can_be_reused(acme, settings):
    from datetime import timedelta

    from django.utils import timezone

    from mdr.alerts.models import IdempotencyRecord

    # given: a record older than the TTL
    settings.MDR_IDEMPOTENCY_PRUNE_EVERY = 1  # prune on every keyed request
    post(acme, [native(1)], HTTP_IDEMPOTENCY_KEY="old")
    with schema_context("acme"):
        IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    # when: another keyed request arrives, and the old key is used again with another body
    post(acme, [native(2)], HTTP_IDEMPOTENCY_KEY="new")
    with schema_context("acme"):
        assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"new"}
    reused = post(acme, [native(3)], HTTP_IDEMPOTENCY_KEY="old")
    # then: an expired key is a new request, not a conflict
    assert reused.status_code == 202 and "Idempotent-Replayed" not in reused
