"""The SLA engine end to end: policy on a contract version, alert ingested, timers started, the queue, the
sweep's message, the recompute command, and the provider API."""

import json
from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import dramatiq
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.jobs.models import DueWork, TimerIndex
from mdr.jobs.services import due_work_sweep
from mdr.sla import services
from mdr.sla.models import SlaTimer
from tests.alerts.test_ingest_api import native, post
from tests.conftest import login
from tests.factories import UserFactory
from tests.scope.helpers import ACTOR, new_version
from tests.scope.test_classification import ITEMS, ingest_and_process

JAN1 = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))


def _timer(subject: str, goal_seconds: int, metric: str = "acknowledge", at: datetime = JAN1):
    return services.timer_start(
        subject_type="alert",
        subject_id=subject,
        metric=metric,
        priority="P1",
        goal_seconds=goal_seconds,
        calendar=services.BusinessCalendar.always(timezone="UTC"),
        at=at,
    )


def _policy():
    return services.policy_create(
        actor=ACTOR,
        name="gold",
        targets=[
            {"priority": "P1", "metric": "acknowledge", "goal_minutes": 15},
            {"priority": "P1", "metric": "resolve", "goal_minutes": 480, "calendar": "coverage"},
            {"priority": "P2", "metric": "acknowledge", "goal_minutes": 60},
        ],
    )


def test_in_scope_alerts_get_timers_per_policy_and_appear_in_the_queue(acme, globex):
    with schema_context("acme"):
        policy = _policy()
        new_version(items=ITEMS, terms={"sla_policy_id": policy.pk})
    now = datetime.now(ZoneInfo("UTC")).isoformat()
    p1, p2, out = ingest_and_process(
        acme,
        [
            native(1, hosts=["web01"], ips=[], severity="critical", observed_at=now),
            native(2, hosts=["web01"], ips=[], severity="high", observed_at=now),
            native(3, hosts=["lab-1"], ips=[], severity="critical", observed_at=now),
        ],
    )
    assert (p1.priority, p2.priority, out.scope_status) == ("P1", "P1", "excluded")
    with schema_context("acme"):
        timers = {(t.subject_id, t.metric): t for t in SlaTimer.objects.all()}
    assert set(timers) == {
        (str(p1.pk), "acknowledge"),
        (str(p1.pk), "resolve"),
        (str(p2.pk), "acknowledge"),
        (str(p2.pk), "resolve"),
    }
    ack = timers[(str(p1.pk), "acknowledge")]
    assert ack.goal_seconds == 900 and ack.started_at == p1.received_at
    # the public indexes know every open timer, without alert content
    assert TimerIndex.objects.filter(schema_name="acme").count() == 4
    assert DueWork.objects.filter(schema_name="acme", kind="sla_timer_due").count() == 4
    # the cross-customer queue, nearest breach first
    UserFactory(username="an1", role=Role.ANALYST)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "an1", "correct horse battery staple")
    queue = client.get("/api/provider/queue").json()
    assert [q["metric"] for q in queue[:2]] == ["acknowledge", "acknowledge"]
    assert queue[0]["customer"] == "acme" and 0 < queue[0]["seconds_left"] <= 900
    assert client.get("/api/provider/queue", {"customer": "globex"}).json() == []
    assert all(q["priority"] == "P1" for q in client.get("/api/provider/queue", {"priority": "P1"}).json())
    assert client.get("/api/provider/queue", {"priority": "P7"}).status_code == 400


def test_the_sweep_sends_due_timers_to_their_schema_and_the_actor_breaches(acme):
    broker = dramatiq.get_broker()
    broker.flush("default")
    with schema_context("acme"):
        timer = _timer("x", 60)
    assert due_work_sweep() == 1
    assert broker.do_qsize("default") == 1
    # the actor, as the worker would run it in acme
    with schema_context("acme"):
        from mdr.sla.tasks import sla_timer_due

        sla_timer_due.fn([str(timer.pk)])
        timer.refresh_from_db()
        assert timer.breached_at == datetime(2026, 1, 1, 0, 1, tzinfo=ZoneInfo("UTC"))
    assert not DueWork.objects.filter(ref=str(timer.pk)).exists()
    assert TimerIndex.objects.get(timer_id=timer.pk, schema_name="acme").breached
    broker.flush("default")


def test_two_sweeps_and_two_deliveries_at_once_never_double_fire(committed_customer, django_db_blocker):
    """Real concurrency: threads with their own database connections, on committed data."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    tenant = committed_customer
    with django_db_blocker.unblock(), schema_context(tenant.schema):
        timers = [_timer(f"c{i}", 60) for i in range(20)]  # all due (January 1st)
    broker = dramatiq.get_broker()
    broker.flush("default")

    def in_thread(fn):
        def run(*args):
            try:
                with django_db_blocker.unblock():
                    return fn(*args)
            finally:
                connection.close()

        return run

    # when: two schedulers sweep at the same moment
    with ThreadPoolExecutor(2) as pool:
        fired = list(pool.map(in_thread(lambda _: due_work_sweep()), range(2)))
    # then: every due row was handed over exactly once (one fan-out message per scheduler that found rows)
    assert sum(fired) == 20
    assert broker.do_qsize("default") == sum(1 for f in fired if f)
    broker.flush("default")

    # when: the same timer's message is delivered twice, processed at the same moment
    def deliver(timer_id):
        with schema_context(tenant.schema):
            return services.timer_due(timer_id=timer_id)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(in_thread(deliver), [t.pk for t in timers] * 2))
    # then: one breach and three warnings per timer, never more
    with django_db_blocker.unblock(), schema_context(tenant.schema):
        from mdr.sla.models import SlaTimerEvent

        counts = {}
        for kind in SlaTimerEvent.objects.values_list("kind", flat=True):
            counts[kind] = counts.get(kind, 0) + 1
        assert counts == {"started": 20, "warned": 60, "breached": 20}


def test_recompute_command_proves_state_and_flags_tampering(acme):
    with schema_context("acme"):
        timer = _timer("z", 3600, metric="resolve")
    out = StringIO()
    call_command("sla_recompute", "acme", "--timer", str(timer.pk), stdout=out)
    assert json.loads(out.getvalue())["consistent"] is True
    with schema_context("acme"):
        SlaTimer.objects.filter(pk=timer.pk).update(goal_seconds=7200)
    try:
        call_command("sla_recompute", "acme", stdout=StringIO())
    except Exception as exc:
        assert "differ from their history" in str(exc)
    else:
        raise AssertionError("tampering not detected")


def test_provider_api_policies_calendars_and_manual_pause(acme):
    UserFactory(username="pa1", role=Role.PROVIDER_ADMIN)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "pa1", "correct horse battery staple")
    base = "/api/provider/customers/acme/sla"
    spec = {"timezone": "Asia/Tokyo", "weekly_hours": {"0": [["09:00", "18:00"]]}, "holidays": ["JP"]}
    cal = client.post(f"{base}/calendars", {"name": "jp-business", "spec": spec}, content_type="application/json")
    assert cal.status_code == 201 and cal.json()["version"] == 1
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART;VALUE=DATE:20261229\r\nDTEND;VALUE=DATE:20270105\r\nSUMMARY:year end\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    v2 = client.post(f"{base}/calendars?base={cal.json()['id']}", ics, content_type="text/calendar")
    assert v2.status_code == 201 and v2.json()["version"] == 2
    assert "2026-12-29" in v2.json()["spec"]["extra_holidays"] and "2027-01-04" in v2.json()["spec"]["extra_holidays"]
    bad = client.post(
        f"{base}/policies",
        {"name": "p", "targets": [{"priority": "P1", "metric": "notify", "goal_minutes": 0}]},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "targets[0].goal_minutes" in bad.json()
    ok = client.post(
        f"{base}/policies",
        {
            "name": "p",
            "targets": [{"priority": "P1", "metric": "notify", "goal_minutes": 30, "calendar": cal.json()["id"]}],
        },
        content_type="application/json",
    )
    assert ok.status_code == 201
    with schema_context("acme"):
        timer = _timer("m", 600, at=datetime.now(ZoneInfo("UTC")))
    no_reason = client.post(f"{base}/timers/{timer.pk}/pause", {}, content_type="application/json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    paused = client.post(
        f"{base}/timers/{timer.pk}/pause", {"reason": "customer call"}, content_type="application/json"
    )
    assert paused.json()["state"] == "paused" and paused.json()["deadline"] is None
    assert (
        client.post(f"{base}/timers/{timer.pk}/resume", {}, content_type="application/json").json()["state"]
        == "running"
    )


def test_outside_coverage_a_24x7_clock_starts_when_coverage_opens(acme):
    from mdr.alerts.models import Alert
    from mdr.sla.calendar import BusinessCalendar

    tokyo = ZoneInfo("Asia/Tokyo")
    coverage = BusinessCalendar(timezone="Asia/Tokyo", weekly_hours={d: [("09:00", "18:00")] for d in range(5)})
    with schema_context("acme"):
        policy = services.policy_create(
            actor=ACTOR, name="p", targets=[{"priority": "P2", "metric": "acknowledge", "goal_minutes": 60}]
        )
        saturday_night = Alert(
            pk="01900000-0000-7000-8000-000000000001",
            priority="P2",
            received_at=datetime(2026, 11, 21, 23, 0, tzinfo=tokyo),
        )
        services.alert_timers_start(
            alerts=[saturday_night], policy=policy, coverage=coverage, timezone_name="Asia/Tokyo"
        )
        timer = SlaTimer.objects.get(subject_id=str(saturday_night.pk))
        # Monday 2026-11-23 is a holiday only in a JP-holiday calendar; this coverage has none: Monday 09:00
        assert timer.started_at == datetime(2026, 11, 23, 9, 0, tzinfo=tokyo)
        assert timer.deadline == datetime(2026, 11, 23, 10, 0, tzinfo=tokyo)  # the target itself is 24x7


def test_processing_a_batch_costs_the_same_queries_for_10_or_200_alerts(acme):
    """No per-alert queries in the pipeline: classification, metering, drift, log sources and SLA timers."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mdr.alerts.services import alert_batch_process
    from mdr.jobs.models import Outbox

    with schema_context("acme"):
        policy = _policy()
        new_version(
            items=ITEMS,
            terms={"sla_policy_id": policy.pk},
            entitlements=[
                {
                    "metric": "endpoints",
                    "limit": "1000",
                    "tolerance_pct": "0",
                    "measurement": "unique_in_month",
                    "over_limit_policy": "notify_only",
                }
            ],
        )
    now = datetime.now(ZoneInfo("UTC")).isoformat()

    def run(start: int, n: int) -> int:
        # two thirds in scope through the 10.0.0.0/8 rule (distinct hosts, metered), one third unknown (drift)
        items = [
            native(
                start + i,
                hosts=[f"h{start + i}.corp"],
                ips=[f"10.1.{(start + i) // 250}.{(start + i) % 250}"],
                severity="critical",
                observed_at=now,
            )
            if i % 3
            else native(start + i, hosts=[f"ghost-{start + i}"], ips=[], severity="critical", observed_at=now)
            for i in range(n)
        ]
        body = post(acme, items).json()
        with schema_context("acme"):
            outbox = Outbox.objects.get(payload__alert_ids=[a["id"] for a in body["alerts"]])
            with CaptureQueriesContext(connection) as queries:
                assert alert_batch_process(outbox_id=outbox.pk) == "done"
        return len(queries)

    small, large = run(0, 10), run(1000, 200)
    assert large <= small + 2, (small, large)
    with schema_context("acme"):
        assert SlaTimer.objects.count() == 2 * (6 + 133)  # the in-scope two thirds, acknowledge and resolve


def test_a_contract_sets_its_own_priority_matrix(acme):
    from mdr.scope import services as scope_services

    everything_p4 = {
        band: {c: "P4" for c in ("critical", "high", "medium", "low")} for band in ("critical", "high", "medium", "low")
    }
    with schema_context("acme"):
        new_version(items=ITEMS, terms={"priority_matrix": everything_p4})
        try:
            new_version(terms={"priority_matrix": {"critical": {"high": "P0"}}})
        except scope_services.ScopeError as exc:
            assert exc.field == "priority_matrix"
        else:
            raise AssertionError("bad matrix accepted")
    now = datetime.now(ZoneInfo("UTC")).isoformat()
    (alert,) = ingest_and_process(acme, [native(1, hosts=["web01"], ips=[], severity="critical", observed_at=now)])
    assert alert.priority == "P4"
