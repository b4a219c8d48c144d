"""Redis stopped during ingestion and started again: every accepted alert is processed, none twice, and the
incident they form is made once and notified once.

Real processes (gunicorn, a dramatiq worker, the scheduler running the outbox relay) against the test database
and a private Redis server that the test kills and restarts empty (no persistence: queued messages are lost
too, the worst case). The customer's contract covers every host and its matrix escalates P3 and above without an
analyst to a webhook receiver that deduplicates on ``webhook-id`` (tests/reliability/receivers.py).
"""

import json
import time

import pytest
from django_tenants.utils import schema_context

from mdr.alerts.models import Alert
from mdr.audit.services import Actor
from mdr.escalations.models import Contact, Delivery
from mdr.escalations.services import matrix_publish
from mdr.incidents.models import Incident
from mdr.jobs.models import FailedJob, Outbox
from tests.alerts.test_ingest_api import native
from tests.live import free_port, process_env, request, start_redis, start_scheduler, start_web, start_worker
from tests.reliability.receivers import DedupReceiver


@pytest.fixture
def stack(committed_customer, tmp_path):
    redis_port = free_port()
    redis = start_redis(redis_port, tmp_path)
    env = process_env(
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        MDR_WEBHOOK_ALLOW_PRIVATE="1",
        # a delivery whose message died with Redis is handed over again after its lease (the escalation's own path)
        MDR_DELIVERY_LEASE_SECONDS="2",
        MDR_SCHEDULER_INTERVAL_SECONDS="0.5",
        MDR_OUTBOX_RESEND_AFTER_SECONDS="1",
        MDR_OUTBOX_REDELIVER_AFTER_SECONDS="5",
    )
    web, port = start_web(env, tmp_path)
    procs = {
        "redis": redis,
        "web": web,
        "worker": start_worker(env, tmp_path),
        "scheduler": start_scheduler(env, tmp_path),
    }
    yield {"port": port, "redis_port": redis_port, "procs": procs, "dir": tmp_path}
    for proc in procs.values():
        proc.stop()


def _post(stack, tenant, start: int, n: int):
    body = json.dumps([native(i) for i in range(start, start + n)]).encode()
    return request(
        stack["port"],
        "POST",
        "/api/v1/alerts",
        host=tenant.domain,
        body=body,
        headers={"Authorization": f"Bearer {tenant.api_key}", "Content-Type": "application/json"},
    )


def _wait_processed(tenant, blocker, expected: int, timeout: float, stack) -> int:
    deadline = time.monotonic() + timeout
    done = -1
    while time.monotonic() < deadline:
        with blocker.unblock(), schema_context(tenant.schema):
            done = Alert.objects.filter(processed_at__isnull=False).count()
        if done == expected:
            return done
        time.sleep(0.25)
    logs = "\n".join(f"--- {n}\n{p.output()[-1500:]}" for n, p in stack["procs"].items())
    raise AssertionError(f"{done}/{expected} processed after {timeout}s\n{logs}")


def _escalating_customer(tenant, receiver: DedupReceiver) -> None:
    """Every host in scope; incidents of P3 and above escalated at once (``auto``) to the receiver."""
    from django.utils import timezone

    from mdr.scope import services as scope
    from mdr.scope.selectors import contract_current

    actor = Actor.system("tests")
    with schema_context(tenant.schema):
        draft = scope.version_draft_create(actor=actor, contract=contract_current())
        scope.scope_items_import(actor=actor, version=draft, rows=[{"kind": "host", "value": "*"}])
        scope.version_publish(actor=actor, version=draft, effective_date=timezone.now().date())
        duty = Contact.objects.create(name="duty", webhook_url=receiver.url(), webhook_secret=receiver.secret)
        levels = [{"contacts": [duty.pk], "channels": ["webhook"], "wait_minutes": 30}]
        matrix_publish(actor=actor, rules=[{"min_priority": "P3", "auto": True, "levels": levels}])


@pytest.fixture
def receiver():
    r = DedupReceiver()
    yield r
    r.down()


def test_accepted_alerts_survive_a_redis_outage(stack, committed_customer, receiver, django_db_blocker):
    tenant = committed_customer
    with django_db_blocker.unblock():
        _escalating_customer(tenant, receiver)
    # given: a working pipeline
    assert _post(stack, tenant, 0, 50).status == 202
    _wait_processed(tenant, django_db_blocker, 50, 30, stack)
    # when: Redis dies, ingest goes on
    stack["procs"]["redis"].stop()
    during = [_post(stack, tenant, 100 + 50 * k, 50) for k in range(4)]
    # then: every request was still accepted (the outbox is in PostgreSQL)
    assert [r.status for r in during] == [202] * 4
    assert sum(r.body["accepted"] for r in during) == 200
    with django_db_blocker.unblock():
        unsent = Outbox.objects.filter(schema_name=tenant.schema, sent_at__isnull=True).count()
    assert unsent == 4  # no message reached the broker: only the relay can deliver them
    # when: Redis comes back empty
    time.sleep(1)
    stack["procs"]["redis"] = start_redis(stack["redis_port"], stack["dir"])
    # then: the relay re-sends and the worker processes everything, exactly once
    _wait_processed(tenant, django_db_blocker, 250, 60, stack)
    with django_db_blocker.unblock():
        with schema_context(tenant.schema):
            assert Alert.objects.count() == 250
        pending = Outbox.objects.filter(schema_name=tenant.schema, processed_at__isnull=True)
        deadline = time.monotonic() + 10
        while pending.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not pending.exists()
        assert not FailedJob.objects.filter(schema_name=tenant.schema).exists()
        # the alerts (one host) formed one incident, escalated once: one delivery, one notice at the receiver
        with schema_context(tenant.schema):
            assert Incident.objects.count() == 1
            assert Alert.objects.filter(incident_id__isnull=False).count() == 250
            deliveries = list(Delivery.objects.all())
    assert len(deliveries) == 1
    deadline = time.monotonic() + 60
    while not receiver.notices and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(receiver.notices) == [deliveries[0].message_id]
