"""The customer's webhook receiver and the SMTP server down for a while: every attempt is retried with backoff and
recorded, a failover level moves from the webhook to e-mail and then, when the whole level has failed, to the next
level at once; when the receiver is back the next level's notice goes through, once. The incident's ``notify``
deadline passed meanwhile: the breach is recorded at the deadline (not hidden, not moved), and the clock stops at
the delivery that finally went out.

Real processes: a dramatiq worker and the scheduler (retries and the SLA sweep go through the due-work index),
against the test database; the receiver and the SMTP server are real servers in the test process, down at first.
"""

import itertools
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.escalations import services as escalations
from mdr.escalations.models import Contact, Delivery
from mdr.incidents.models import Incident
from mdr.sla import services as sla
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import SlaBreach, SlaTimer
from tests.live import process_env, start_scheduler, start_worker
from tests.mail import MailServer
from tests.reliability.receivers import DedupReceiver

ATTEMPTS = 3
NOTIFY_GOAL_SECONDS = 4


@pytest.fixture
def receiver():
    r = DedupReceiver()
    r.down()
    yield r
    r.down()


@pytest.fixture
def smtp():
    server = MailServer()  # not started: connection refused on its port
    yield server
    server.stop()


def _deliveries(schema, blocker) -> list[tuple]:
    with blocker.unblock(), schema_context(schema):
        return list(
            Delivery.objects.order_by("level", "pk").values_list(
                "level", "contact__name", "channel", "state", "attempts"
            )
        )


def _wait(predicate, timeout: float, procs) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    logs = "\n".join(f"--- {n}\n{p.output()[-2000:]}" for n, p in procs.items())
    raise AssertionError(f"timed out\n{logs}")


def test_receivers_down_retry_fail_over_and_record_the_breach(
    committed_customer, receiver, smtp, tmp_path, django_db_blocker
):
    schema = committed_customer.schema
    env = process_env(
        MDR_WEBHOOK_ALLOW_PRIVATE="1",
        MDR_DELIVERY_MAX_ATTEMPTS=str(ATTEMPTS),
        MDR_DELIVERY_BACKOFF_SECONDS="1",
        MDR_DELIVERY_LEASE_SECONDS="30",
        MDR_SCHEDULER_INTERVAL_SECONDS="0.3",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
    )
    procs = {"worker": start_worker(env, tmp_path), "scheduler": start_scheduler(env, tmp_path)}
    try:
        with django_db_blocker.unblock(), schema_context(schema):
            duty = Contact.objects.create(
                name="duty",
                email="duty@acme.example",
                webhook_url=receiver.url("/duty"),
                webhook_secret=receiver.secret,
            )
            manager = Contact.objects.create(
                name="manager", webhook_url=receiver.url("/manager"), webhook_secret=receiver.secret
            )
            escalations.matrix_publish(
                actor=Actor.system("tests"),
                rules=[
                    {
                        "min_priority": "P2",
                        "levels": [
                            {"contacts": [duty.pk], "channels": ["webhook", "email"], "mode": "failover"}
                            | {"wait_minutes": 30},
                            {"contacts": [manager.pk], "channels": ["webhook"], "wait_minutes": 30},
                        ],
                    }
                ],
            )
            incident = Incident.objects.create(title="Domain admin logon from abroad", severity_id=5, priority="P1")
            started = timezone.now()
            notify = sla.timer_start(
                subject_type="incident",
                subject_id=str(incident.pk),
                metric="notify",
                priority="P1",
                goal_seconds=NOTIFY_GOAL_SECONDS,
                calendar=BusinessCalendar.always(timezone="Asia/Tokyo"),
                at=started,
                warning_thresholds=[],
            )
            with transaction.atomic():
                escalations.escalation_start(incident=incident, actor=Actor.system("tests"), now=started)
        # when: both are down, level 0 fails on both channels, the ladder moves on to level 1 at once
        _wait(lambda: any(d[0] == 1 for d in _deliveries(schema, django_db_blocker)), 60, procs)
        level0 = [d for d in _deliveries(schema, django_db_blocker) if d[0] == 0]
        assert level0 == [(0, "duty", "webhook", "failed", ATTEMPTS), (0, "duty", "email", "failed", ATTEMPTS)]
        # then: the receiver comes back and the manager's notice goes through
        receiver.up()
        smtp.start()
        _wait(
            lambda: (1, "manager", "webhook", "sent") in [d[:4] for d in _deliveries(schema, django_db_blocker)],
            60,
            procs,
        )
        time.sleep(1.5)  # a doubled send would have arrived by now
        assert receiver.notices_to("/manager") and len(receiver.notices_to("/manager")) == 1
        assert receiver.notices_to("/duty") == [] and smtp.messages == []  # level 0 stays failed: no late notice
        assert receiver.repeats == 0 and receiver.rejected == 0
        with django_db_blocker.unblock(), schema_context(schema):
            # every attempt recorded, with its error, spaced by the backoff (1 s, then 2 s)
            for delivery in Delivery.objects.filter(level=0):
                attempts = list(delivery.attempt_log.order_by("number"))
                assert [(a.number, a.ok) for a in attempts] == [(n, False) for n in range(1, ATTEMPTS + 1)]
                assert all(a.error for a in attempts)
                gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(attempts)]
                assert gaps[0] >= 1 and gaps[1] >= 2, gaps
            sent = Delivery.objects.get(level=1)
            oks = [a.ok for a in sent.attempt_log.order_by("number")]
            assert oks[-1] and not any(oks[:-1])  # refused while the receiver was down (if it tried), then sent
            # the SLA: notified late, and the breach says so, at the deadline
            incident.refresh_from_db()
            assert incident.notified_at == sent.delivered_at
            notify = SlaTimer.objects.get(pk=notify.pk)
            breach = SlaBreach.objects.get(timer=notify)
            assert breach.breached_at == breach.deadline == started + timedelta(seconds=NOTIFY_GOAL_SECONDS)
            assert breach.breached_at < sent.delivered_at
            assert notify.state == "met" and notify.events.filter(kind="breached").count() == 1
    finally:
        for proc in procs.values():
            proc.stop()
