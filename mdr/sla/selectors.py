"""Read queries of the SLA app that stay in the public schema: the cross-customer analyst queue, read from the
public timer index (ids, times, priority and metric only), so no customer schema is entered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from mdr.jobs.models import TimerIndex
from tenants.models import Customer


@dataclass(frozen=True)
class QueueEntry:
    """One open SLA timer of one customer, as the analyst queue shows it."""

    customer: str  # slug
    customer_name: str
    customer_timezone: str
    timer_id: int
    subject_type: str
    subject_id: str
    metric: str
    priority: str
    deadline: datetime | None  # None while paused
    seconds_left: int | None  # negative once breached
    breached: bool


def timer_queue_list(
    *,
    schema_name: str | None = None,
    priorities: list[str] | None = None,
    metric: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> list[QueueEntry]:
    """Open timers of every customer (or one schema), nearest breach first; paused timers (no deadline) last.
    Two queries whatever the number of customers: the index, then the customers named in the page."""
    qs = TimerIndex.objects.order_by("deadline", "id")  # NULL (paused) deadlines sort last in PostgreSQL
    if schema_name:
        qs = qs.filter(schema_name=schema_name)
    if priorities:
        qs = qs.filter(priority__in=priorities)
    if metric:
        qs = qs.filter(metric=metric)
    rows = list(qs[:limit])
    customers = {
        schema: (slug, name, tz)
        for schema, slug, name, tz in Customer.objects.filter(
            schema_name__in={r.schema_name for r in rows}
        ).values_list("schema_name", "slug", "name", "timezone")
    }
    now = now or timezone.now()
    return [
        QueueEntry(
            customer=customers.get(r.schema_name, (r.schema_name, "", ""))[0],
            customer_name=customers.get(r.schema_name, ("", "", ""))[1],
            customer_timezone=customers.get(r.schema_name, ("", "", ""))[2] or "UTC",
            timer_id=r.timer_id,
            subject_type=r.subject_type,
            subject_id=r.subject_id,
            metric=r.metric,
            priority=r.priority,
            deadline=r.deadline,
            seconds_left=int((r.deadline - now).total_seconds()) if r.deadline else None,
            breached=r.breached,
        )
        for r in rows
    ]
