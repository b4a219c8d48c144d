"""The analyst queue: every customer's open timers from the public index, nearest breach first, linked to the
incident workspace, without entering any customer schema."""

from datetime import UTC, datetime, timedelta

from django_tenants.utils import schema_context

from mdr.incidents.models import Incident
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.services import timer_start


def _timer(schema: str, title: str, priority: str, goal_seconds: int, at: datetime) -> Incident:
    with schema_context(schema):
        incident = Incident.objects.create(title=title, severity_id=4, priority=priority)
        timer_start(
            subject_type="incident",
            subject_id=str(incident.pk),
            metric="notify",
            priority=priority,
            goal_seconds=goal_seconds,
            calendar=BusinessCalendar.always(timezone="UTC"),
            at=at,
        )
    return incident


def test_the_queue_orders_every_customers_timers_by_deadline(acme, globex, analyst, django_assert_max_num_queries):
    # given: globex's timer is due first, acme's later, acme's P4 last
    now = datetime.now(UTC)
    late = _timer("acme", "acme later", "P2", 3600, now)
    first = _timer("globex", "globex first", "P1", 600, now)
    last = _timer("acme", "acme last", "P4", 86400, now)
    # when: a bounded number of queries, whatever the number of customers (no schema entered)
    with django_assert_max_num_queries(12):
        response = analyst.get("/queue/")
    # then
    page = response.content.decode()
    assert response.status_code == 200
    positions = [
        page.index(f"/customers/{slug}/incidents/{i.pk}")
        for slug, i in (("globex", first), ("acme", late), ("acme", last))
    ]
    assert positions == sorted(positions)
    assert "Globex Corporation" in page and "Acme Corp" in page and "JST" in page
    # titles live in the customers' schemas: the queue does not show them
    assert "globex first" not in page


def test_the_queue_filters_by_customer_and_priority(acme, globex, analyst):
    now = datetime.now(UTC)
    acme_incident = _timer("acme", "a", "P2", 3600, now)
    globex_incident = _timer("globex", "g", "P1", 600, now)
    page = analyst.get("/queue/?customer=acme").content.decode()
    assert str(acme_incident.pk) in page and str(globex_incident.pk) not in page
    page = analyst.get("/queue/?priority=P1").content.decode()
    assert str(globex_incident.pk) in page and str(acme_incident.pk) not in page
    assert analyst.get("/queue/?customer=nope").status_code == 404


def test_a_breached_timer_is_flagged_with_negative_time_left(acme, analyst):
    _timer("acme", "old", "P1", 60, datetime.now(UTC) - timedelta(hours=2))
    from mdr.jobs.models import TimerIndex

    TimerIndex.objects.filter(schema_name="acme").update(breached=True)
    page = analyst.get("/queue/").content.decode()
    assert "breached</strong>" in page and 'data-testid="queue-remaining">-1h 5' in page
