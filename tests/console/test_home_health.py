"""The console's customer list with health at a glance: public queries only (their number does not grow with the
number of customers), the rollup computed inside the customer's schema by the worker, SLA timers read live from
the public timer index, urgent customers first and a "needs attention" filter."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.jobs.health import HEALTH_ACTOR, HEALTH_REF, customer_health_refresh, customer_health_touch
from mdr.jobs.models import CustomerHealth, DueWork, TimerIndex
from mdr.jobs.selectors import customer_health_list, timer_health_counts
from tenants.models import Customer, Domain

ANALYST = Actor(type="provider_staff", name="analyst#7")


@pytest.fixture(autouse=True)
def _no_pending_refresh(db):
    """Onboarding asks for a first refresh (committed with the session's customers); these tests start without."""
    DueWork.objects.filter(kind=HEALTH_ACTOR).delete()


def _customers(n: int, prefix: str) -> list[Customer]:
    """Customer rows with a domain, a health row and a breached timer each (no schema: the list never enters one)."""
    now = timezone.now()
    made = []
    for i in range(n):
        customer = Customer.objects.create(schema_name=f"{prefix}_{i}", name=f"{prefix} {i}", slug=f"{prefix}-{i}")
        Domain.objects.create(tenant=customer, domain=f"{prefix}-{i}.example.test", is_primary=True)
        CustomerHealth.objects.create(customer=customer, open_incidents=i, open_p1=i % 2, refreshed_at=now)
        TimerIndex.objects.create(
            schema_name=customer.schema_name,
            timer_id=1,
            subject_type="incident",
            subject_id="x",
            metric="respond",
            priority="P1",
            deadline=now - timedelta(minutes=5),
            breached=True,
        )
        made.append(customer)
    return made


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_number_of_queries_does_not_grow_with_the_number_of_customers(analyst):
    # given 2 customers more than the session's two
    _customers(2, "few")
    few = _queries(analyst)
    # when there are 10 more
    _customers(10, "many")
    many = _queries(analyst)
    # then the page costs the same number of queries, none of them in a customer schema
    assert many == few
    with CaptureQueriesContext(connection) as ctx:
        body = analyst.get("/").content.decode()
    search_paths = {q["sql"] for q in ctx.captured_queries if "search_path" in q["sql"]}
    assert search_paths <= {'SET search_path = "public"'}
    assert not any('"acme".' in q["sql"] or '"many_' in q["sql"] for q in ctx.captured_queries)
    assert "many-9.example.test" in body and "many 9" in body


def test_urgent_customers_come_first_and_the_filter_keeps_only_those(analyst, acme, globex):
    # given acme with a breached timer and globex with nothing wrong
    now = timezone.now()
    TimerIndex.objects.create(
        schema_name="acme",
        timer_id=991,
        subject_type="incident",
        subject_id="a",
        metric="respond",
        priority="P2",
        deadline=now - timedelta(minutes=1),
        breached=True,
    )
    calm = Customer.objects.create(schema_name="aaa_calm", name="AAA calm", slug="aaa-calm")
    # when the list is shown
    body = analyst.get("/").content.decode()
    # then acme (a breach) comes before the alphabetically first calm customer
    assert body.index('data-testid="customer-acme"') < body.index('data-testid="customer-aaa-calm"')
    assert "1 breached" in body
    # and "needs attention" leaves out the calm ones
    only = analyst.get("/", {"attention": "1"}).content.decode()
    assert 'data-testid="customer-acme"' in only
    assert 'data-testid="customer-aaa-calm"' not in only and 'data-testid="customer-globex"' not in only
    # and by name, the calm one is first again
    by_name = analyst.get("/", {"sort": "name"}).content.decode()
    assert by_name.index('data-testid="customer-aaa-calm"') < by_name.index('data-testid="customer-acme"')
    assert calm.slug in analyst.get("/", {"q": "calm"}).content.decode()


def test_timer_counts_at_risk_and_breached_are_read_live(acme, settings):
    # given acme's open timers: one breached, one past its deadline before the sweep ran, one due in 10 minutes,
    # one due tomorrow, one paused
    settings.MDR_HEALTH_AT_RISK_MINUTES = 60
    now = timezone.now()
    rows = [
        (1, now - timedelta(hours=1), True),
        (2, now - timedelta(seconds=5), False),
        (3, now + timedelta(minutes=10), False),
        (4, now + timedelta(days=1), False),
        (5, None, False),
    ]
    for timer_id, deadline, breached in rows:
        TimerIndex.objects.create(
            schema_name="acme",
            timer_id=timer_id,
            subject_type="alert",
            subject_id=str(timer_id),
            metric="acknowledge",
            priority="P2",
            deadline=deadline,
            breached=breached,
        )
    # when counted, then (at risk, breached)
    assert timer_health_counts(now=now)["acme"] == (1, 2)
    assert "globex" not in timer_health_counts(now=now)


def test_the_refresh_computes_the_row_inside_the_customer_schema(acme, globex):
    from mdr.incidents.models import Incident
    from mdr.scope.models import Contract, CoverageDegradation

    # given acme with two open incidents (one P1), a closed P1, a silent source and a contract end date
    now = timezone.now()
    with schema_context("acme"):
        Incident.objects.create(title="a", severity_id=5, priority="P1")
        Incident.objects.create(title="b", severity_id=3, priority="P3", state="investigating")
        Incident.objects.create(title="c", severity_id=5, priority="P1", state="closed")
        CoverageDegradation.objects.create(
            source_key="edr", display_name="EDR", started_at=now, detected_at=now, heartbeat_hours=1, reason="x"
        )
        Contract.objects.update(ends_on=date(2027, 3, 31))
        # when the worker refreshes it
        row = customer_health_refresh(now=now)
    # then the public row holds acme's figures, and only acme's
    assert row is not None
    health = CustomerHealth.objects.get(customer__schema_name="acme")
    assert (health.open_incidents, health.open_p1, health.silent_sources) == (2, 1, 1)
    assert health.contract_end == date(2027, 3, 31) and health.refreshed_at == now
    assert not CustomerHealth.objects.filter(customer__schema_name="globex", open_incidents__gt=0).exists()
    # a second refresh updates the same row (idempotent upsert)
    with schema_context("acme"):
        Incident.objects.filter(title="a").update(state="resolved")
        customer_health_refresh()
    health.refresh_from_db()
    assert (health.open_incidents, health.open_p1) == (1, 0)
    assert CustomerHealth.objects.filter(customer__schema_name="acme").count() == 1
    # and the list shows it without entering acme's schema
    [acme_row] = [r for r in customer_health_list() if r.customer.slug == "acme"]
    assert (acme_row.open_incidents, acme_row.silent_sources, acme_row.needs_attention) == (1, 1, True)


def test_a_burst_of_changes_asks_for_one_refresh_that_is_never_pushed_back(acme, settings):
    settings.MDR_HEALTH_REFRESH_DELAY_SECONDS = 30
    now = timezone.now()
    with schema_context("acme"):
        customer_health_touch(now=now)
        customer_health_touch(now=now + timedelta(seconds=20))
        customer_health_touch(now=now + timedelta(seconds=25))
    rows = DueWork.objects.filter(schema_name="acme", kind=HEALTH_ACTOR)
    assert [(r.ref, r.due_at) for r in rows] == [(HEALTH_REF, now + timedelta(seconds=30))]
    customer_health_touch()  # public: nothing to refresh
    assert DueWork.objects.filter(kind=HEALTH_ACTOR).count() == 1


def test_incident_changes_and_processed_alerts_ask_for_a_refresh(acme):
    from mdr.incidents import services
    from mdr.incidents.models import Incident

    with schema_context("acme"):
        incident = Incident.objects.create(title="a", severity_id=5, priority="P1")
        assert not DueWork.objects.filter(schema_name="acme", kind=HEALTH_ACTOR).exists()
        services.incident_transition(incident=incident, to="investigating", actor=ANALYST)
    assert DueWork.objects.filter(schema_name="acme", kind=HEALTH_ACTOR, ref=HEALTH_REF).count() == 1
    # a refused transition asks for nothing (the request is written in the service's transaction)
    DueWork.objects.filter(kind=HEALTH_ACTOR).delete()
    with schema_context("acme"), pytest.raises(services.IncidentError):
        services.incident_transition(incident=incident, to="new", actor=ANALYST)
    assert not DueWork.objects.filter(kind=HEALTH_ACTOR).exists()


def test_a_processed_alert_batch_asks_for_a_refresh(acme):
    from tests.alerts.test_ingest_api import native
    from tests.scope.test_classification import ingest_and_process

    ingest_and_process(acme, [native(1, hosts=["web01"], ips=[], severity="high")])
    assert DueWork.objects.filter(schema_name="acme", kind=HEALTH_ACTOR, ref=HEALTH_REF).count() == 1


def test_the_sweep_hands_the_refresh_to_the_actor_in_the_customer_schema(acme):
    import dramatiq

    from mdr.jobs.services import due_work_dispatch, due_work_sweep
    from mdr.jobs.tasks import customer_health_refresh_task

    broker = dramatiq.get_broker()
    broker.flush("default")
    with schema_context("acme"):
        customer_health_touch(now=timezone.now() - timedelta(minutes=1))
    assert due_work_sweep() >= 1
    assert not DueWork.objects.filter(kind=HEALTH_ACTOR).exists()
    broker.flush("default")
    assert due_work_dispatch(items=[["acme", HEALTH_ACTOR, HEALTH_REF]]) == 1
    assert broker.do_qsize("default") == 1
    broker.flush("default")
    # the actor, as the worker runs it in acme
    with schema_context("acme"):
        customer_health_refresh_task.fn([HEALTH_REF])
    assert CustomerHealth.objects.get(customer__schema_name="acme").refreshed_at is not None
