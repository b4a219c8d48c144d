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


# ---- policies and stored calendars of the current customer schema, for the console's version pages ----------

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PRIORITIES = ("P1", "P2", "P3", "P4")


def policy_list():
    """Every policy version of the customer, by name then newest version first, with its targets."""
    from mdr.sla.models import SlaPolicy

    return SlaPolicy.objects.prefetch_related("targets__calendar").order_by("name", "-version")


def policy_get(*, policy_id: int):
    from mdr.sla.models import SlaPolicy

    return SlaPolicy.objects.prefetch_related("targets__calendar").filter(pk=policy_id).first()


def policy_previous(*, policy):
    """The version of the same policy name just before ``policy``."""
    from mdr.sla.models import SlaPolicy

    return (
        SlaPolicy.objects.prefetch_related("targets__calendar")
        .filter(name=policy.name, version__lt=policy.version)
        .order_by("-version")
        .first()
    )


def target_calendar_label(target) -> str:
    if target.calendar_kind == "custom" and target.calendar is not None:
        return f"{target.calendar.name} v{target.calendar.version} (#{target.calendar_id})"
    return target.calendar_kind


def _minutes(seconds: int) -> int | float:
    minutes = seconds / 60
    return int(minutes) if minutes == int(minutes) else round(minutes, 2)


def policy_as_dict(*, policy) -> dict:
    """Warning thresholds and, per priority and metric, the goal in minutes and the calendar it runs on."""
    targets: dict[str, dict] = {}
    for target in sorted(policy.targets.all(), key=lambda t: (t.priority, t.metric)):
        targets.setdefault(target.priority, {})[target.metric] = {
            "goal_minutes": _minutes(target.goal_seconds),
            "calendar": target_calendar_label(target),
        }
    return {"warning_thresholds": list(policy.warning_thresholds), "targets": targets}


def timers_open_by_policy() -> dict[int, int]:
    """Policy id -> how many open (running or paused) timers run on its goals."""
    from django.db.models import Count

    from mdr.sla.models import OPEN_STATES, SlaTimer

    return dict(
        SlaTimer.objects.filter(state__in=OPEN_STATES, policy__isnull=False)
        .values("policy_id")
        .annotate(n=Count("id"))
        .values_list("policy_id", "n")
    )


def calendar_list():
    """Every stored calendar version, by name then newest version first."""
    from mdr.sla.models import StoredCalendar

    return StoredCalendar.objects.order_by("name", "-version")


def calendar_get(*, calendar_id: int):
    from mdr.sla.models import StoredCalendar

    return StoredCalendar.objects.filter(pk=calendar_id).first()


def calendar_previous(*, calendar):
    from mdr.sla.models import StoredCalendar

    return StoredCalendar.objects.filter(name=calendar.name, version__lt=calendar.version).order_by("-version").first()


def calendar_spec_as_dict(spec: dict) -> dict:
    """A ``BusinessCalendar.to_dict()`` spec as people read it: working hours per weekday name ("closed" when
    none), holiday countries and extra closed days."""
    if not spec or spec.get("type") == "24x7":
        return {"type": "24x7", "timezone": (spec or {}).get("timezone", "UTC")}
    weekly = spec.get("weekly_hours") or {}
    return {
        "type": "weekly",
        "timezone": spec.get("timezone", ""),
        "weekly_hours": {
            name: ", ".join(f"{a}-{b}" for a, b in weekly.get(str(day), [])) or "closed"
            for day, name in enumerate(WEEKDAYS)
        },
        "holidays": sorted(spec.get("holidays") or []),
        "extra_holidays": sorted(spec.get("extra_holidays") or []),
    }
