"""The scheduler down for 2 hours, then back: one catch-up pass fires every warning, breach and escalation step
that fell due meanwhile, each exactly once, and a second scheduler pass fires nothing again.

The outage is simulated by state: SLA timers started 2 hours ago and an escalation whose first level went out 2
hours ago (its level wait ran out 90 minutes ago), all committed while no scheduler runs; the due-work rows lie in
the past. Then real processes start: a dramatiq worker and the scheduler. Counts come from the timers' event
history and from a webhook receiver that deduplicates on ``webhook-id``.
"""

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
from mdr.jobs.models import DueWork
from mdr.sla import services as sla
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import SlaBreach, SlaTimer
from tests.live import process_env, start_scheduler, start_worker
from tests.reliability.receivers import DedupReceiver

ALWAYS = BusinessCalendar.always(timezone="Asia/Tokyo")
# goal in minutes -> (warnings due after 2 hours, breached): the 50/75/90 % warnings and the deadline
TIMERS = {30: ([50, 75, 90], True), 100: ([50, 75, 90], True), 200: ([50], False), 300: ([], False)}


@pytest.fixture
def receiver():
    r = DedupReceiver()
    yield r
    r.down()


def _story(schema: str, blocker) -> dict:
    with blocker.unblock(), schema_context(schema):
        timers = {
            t.goal_seconds // 60: (
                sorted(t.events.filter(kind="warned").values_list("data__pct", flat=True)),
                t.events.filter(kind="breached").count(),
            )
            for t in SlaTimer.objects.all()
        }
        return {
            "timers": timers,
            "breaches": SlaBreach.objects.count(),
            "deliveries": sorted(Delivery.objects.values_list("contact__name", "state", "attempts")),
        }


def test_two_hours_without_scheduler_catch_up_once(committed_customer, receiver, tmp_path, django_db_blocker):
    schema = committed_customer.schema
    two_hours_ago = timezone.now() - timedelta(hours=2)
    # given: two hours of work that nobody swept
    with django_db_blocker.unblock(), schema_context(schema):
        for goal in TIMERS:
            sla.timer_start(
                subject_type="alert",
                subject_id=f"a{goal}",
                metric="acknowledge",
                priority="P2",
                goal_seconds=goal * 60,
                calendar=ALWAYS,
                at=two_hours_ago,
            )
        first = Contact.objects.create(name="first", webhook_url=receiver.url("/first"), webhook_secret=receiver.secret)
        second = Contact.objects.create(
            name="second", webhook_url=receiver.url("/second"), webhook_secret=receiver.secret
        )
        escalations.matrix_publish(
            actor=Actor.system("tests"),
            rules=[
                {
                    "min_priority": "P2",
                    "levels": [
                        {"contacts": [first.pk], "channels": ["webhook"], "wait_minutes": 30},
                        {"contacts": [second.pk], "channels": ["webhook"], "wait_minutes": 30},
                    ],
                }
            ],
        )
        incident = Incident.objects.create(title="Ransomware note on a file server", severity_id=5, priority="P1")
        with transaction.atomic():
            escalations.escalation_start(incident=incident, actor=Actor.system("tests"), now=two_hours_ago)
        overdue = DueWork.objects.filter(schema_name=schema, due_at__lte=timezone.now())
        assert overdue.count() == 3 + 1 + 1  # three timers, the level step, the first delivery's lease
    env = process_env(
        MDR_WEBHOOK_ALLOW_PRIVATE="1", MDR_DELIVERY_LEASE_SECONDS="30", MDR_SCHEDULER_INTERVAL_SECONDS="0.5"
    )
    procs = {"worker": start_worker(env, tmp_path), "scheduler": start_scheduler(env, tmp_path)}
    try:
        # when: the scheduler is back
        expected = {
            "timers": {goal: (warned, int(breached)) for goal, (warned, breached) in TIMERS.items()},
            "breaches": 2,
            "deliveries": [("first", "sent", 1), ("second", "sent", 1)],
        }
        deadline = time.monotonic() + 60
        story = None
        while time.monotonic() < deadline:
            story = _story(schema, django_db_blocker)
            if story == expected:
                break
            time.sleep(0.3)
        logs = "\n".join(f"--- {n}\n{p.output()[-2000:]}" for n, p in procs.items())
        assert story == expected, logs
        # then: one catch-up pass handed over everything that was due, nothing is overdue any more
        with django_db_blocker.unblock():
            assert not DueWork.objects.filter(schema_name=schema, due_at__lte=timezone.now()).exists()
        # and a second scheduler (another pass after a restart) fires nothing again
        procs["scheduler"].stop()
        procs["scheduler"] = start_scheduler(env, tmp_path)
        time.sleep(3)
        assert _story(schema, django_db_blocker) == expected
        assert [len(receiver.notices_to("/first")), len(receiver.notices_to("/second"))] == [1, 1]
        # from the wire's view too: one request per notice, none the receiver had to drop as a repeat
        assert dict(receiver.attempts) == {"/first": 1, "/second": 1}
        assert receiver.repeats == 0 and receiver.rejected == 0
        with django_db_blocker.unblock(), schema_context(schema):
            # warnings carry their own instants (inside the outage), breaches the deadline, not the late pass
            timer = SlaTimer.objects.get(goal_seconds=30 * 60)
            warned_at = list(timer.events.filter(kind="warned").order_by("at").values_list("at", flat=True))
            assert warned_at == [two_hours_ago + timedelta(minutes=m) for m in (15, 22.5, 27)]
            assert SlaBreach.objects.get(timer=timer).breached_at == two_hours_ago + timedelta(minutes=30)
    finally:
        for proc in procs.values():
            proc.stop()
