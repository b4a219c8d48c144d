"""The processing pipeline, its idempotency, its own attempt count, and the outbox relay."""

from datetime import timedelta

import dramatiq
import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.alerts import pipeline
from mdr.alerts.models import Alert
from mdr.alerts.services import alert_batch_process
from mdr.jobs.models import FailedJob, Outbox
from mdr.jobs.services import outbox_relay
from tests.alerts.test_ingest_api import native, post


def _ingest(tenant, items) -> int:
    response = post(tenant, items)
    assert response.status_code == 202
    with schema_context(tenant.schema):
        return Outbox.objects.get(payload__alert_ids=[a["id"] for a in response.json()["alerts"]]).pk


def test_batch_is_processed_once(acme):
    # given
    outbox_id = _ingest(acme, [native(1, severity="critical"), native(2, severity="low")])
    with schema_context("acme"):
        # when
        assert alert_batch_process(outbox_id=outbox_id) == "done"
        # then
        priorities = dict(Alert.objects.values_list("severity_id", "priority"))
        assert priorities == {5: "P1", 2: "P4"}
        assert not Alert.objects.filter(processed_at__isnull=True).exists()
        processed_at = Alert.objects.first().processed_at
        # a redelivered message changes nothing
        assert alert_batch_process(outbox_id=outbox_id) == "already_done"
        assert Alert.objects.first().processed_at == processed_at
    assert Outbox.objects.get(pk=outbox_id).attempts == 1


def test_message_for_another_tenants_outbox_is_refused(acme, globex):
    outbox_id = _ingest(acme, [native(1)])
    with schema_context("globex"):
        assert alert_batch_process(outbox_id=outbox_id) == "wrong_tenant"
    assert Outbox.objects.get(pk=outbox_id).processed_at is None


def test_failing_step_is_retried_then_recorded_as_failed(acme, monkeypatch, settings):
    # given: a step that always fails
    settings.MDR_JOB_MAX_ATTEMPTS = 3
    outbox_id = _ingest(acme, [native(1)])

    def broken(alerts):
        raise RuntimeError("scope service exploded")

    monkeypatch.setattr(pipeline, "STEPS", [("scope", broken)])
    with schema_context("acme"):
        # when: the broker delivers it again and again
        for _ in range(2):
            with pytest.raises(RuntimeError):
                alert_batch_process(outbox_id=outbox_id)
        outcome = alert_batch_process(outbox_id=outbox_id)
        # then: given up after the third attempt, never run again
        assert outcome == "failed"
        assert alert_batch_process(outbox_id=outbox_id) == "already_done"
        assert Alert.objects.get().processed_at is None
    failed = FailedJob.objects.get(outbox_id=outbox_id)
    assert failed.attempts == 3
    assert "scope service exploded" in failed.error
    assert Outbox.objects.get(pk=outbox_id).failed_at is not None


def test_relay_resends_unsent_and_lost_messages_only(acme):
    # given: one row never sent, one sent long ago and never processed, one sent just now, one processed
    broker = dramatiq.get_broker()
    broker.flush("default")
    old = timezone.now() - timedelta(hours=1)
    unsent = Outbox.objects.create(schema_name="acme", topic="alerts_process", payload={})
    lost = Outbox.objects.create(schema_name="acme", topic="alerts_process", payload={}, sent_at=old)
    fresh = Outbox.objects.create(schema_name="acme", topic="alerts_process", payload={}, sent_at=timezone.now())
    done = Outbox.objects.create(schema_name="acme", topic="alerts_process", payload={}, processed_at=old)
    Outbox.objects.filter(pk__in=[unsent.pk, lost.pk, fresh.pk, done.pk]).update(created_at=old)
    # when
    result = outbox_relay()
    # then
    assert result.sent == 2
    assert broker.do_qsize("default") == 2
    for row in (unsent, lost):
        row.refresh_from_db()
        assert row.sent_at > old
    fresh_sent_at = fresh.sent_at
    fresh.refresh_from_db()
    assert fresh.sent_at == fresh_sent_at
    broker.flush("default")


def test_ingest_sends_the_processing_message_only_after_commit(acme, django_capture_on_commit_callbacks):
    # given
    broker = dramatiq.get_broker()
    broker.flush("default")
    # when: the request's transaction commits
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbox_id = _ingest(acme, [native(1)])
    # then: nothing was sent before the commit; the callback sends it, and the row stays marked sent
    assert broker.do_qsize("default") == 0
    assert len(callbacks) == 1
    callbacks[0]()
    assert broker.do_qsize("default") == 1
    assert Outbox.objects.get(pk=outbox_id).sent_at is not None
    broker.flush("default")


def test_a_failed_send_clears_the_mark_for_the_relay(acme, django_capture_on_commit_callbacks, monkeypatch):
    # given: the broker refuses (Redis down)
    def refuse(*args, **kwargs):
        raise ConnectionError("redis down")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbox_id = _ingest(acme, [native(1)])
    monkeypatch.setattr(dramatiq.get_broker(), "enqueue", refuse)
    # when
    callbacks[0]()
    # then
    assert Outbox.objects.get(pk=outbox_id).sent_at is None
