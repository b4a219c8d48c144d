"""Read queries on the public work tables that the console shows across customers (no customer schema entered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from mdr.jobs.models import OpenRequestIndex, OpenRequestKind, TimerIndex
from tenants.constants import CustomerStatus
from tenants.models import Customer


@dataclass(frozen=True)
class OpenRequest:
    """One customer request waiting for the provider, as the console lists it."""

    customer: str  # slug
    customer_name: str
    kind: str
    ref: str
    subject: str
    created_at: datetime


def open_request_list(*, kind: str, limit: int = 200) -> list[OpenRequest]:
    """Every customer's open requests of one kind, oldest first. Two queries whatever the number of customers: the
    index, then the customers named in it (an offboarded customer's leftovers are not shown)."""
    rows = list(OpenRequestIndex.objects.filter(kind=kind).order_by("created_at", "id")[:limit])
    customers = {
        schema: (slug, name)
        for schema, slug, name in Customer.objects.filter(schema_name__in={r.schema_name for r in rows})
        .exclude(status=CustomerStatus.OFFBOARDED)
        .values_list("schema_name", "slug", "name")
    }
    return [
        OpenRequest(
            customer=customers.get(r.schema_name, (r.schema_name, ""))[0],
            customer_name=customers.get(r.schema_name, ("", ""))[1],
            kind=r.kind,
            ref=r.ref,
            subject=r.subject,
            created_at=r.created_at,
        )
        for r in rows
        if r.schema_name in customers
    ]


def open_request_counts() -> dict[str, int]:
    """kind -> number of open requests of every customer (one query)."""
    counts = dict(OpenRequestIndex.objects.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    return {kind: counts.get(kind, 0) for kind in OpenRequestKind.values}


# ---- customer health (the console's customer list) ------------------------------------------------------------

CONTRACT_ENDING_DAYS = 30


@dataclass(frozen=True)
class CustomerHealthRow:
    """One customer in the console's list: the customer row, its domains, the rollup kept by the workers
    (``CustomerHealth``; None until first computed) and its SLA timers at risk and breached, read live."""

    customer: Customer
    domains: list[str]
    open_incidents: int
    open_p1: int
    last_alert_at: datetime | None
    silent_sources: int
    contract_end: date | None
    refreshed_at: datetime | None
    timers_at_risk: int
    timers_breached: int
    contract_ending: bool  # ends within CONTRACT_ENDING_DAYS, or ended

    @property
    def needs_attention(self) -> bool:
        return bool(
            self.timers_breached or self.open_p1 or self.timers_at_risk or self.silent_sources or self.contract_ending
        )

    @property
    def attention_key(self) -> tuple:
        """Sort key, most urgent first: breaches, then open P1 incidents, timers at risk, silent sources, a
        contract ending, open incidents; then by name."""
        return (
            -self.timers_breached,
            -self.open_p1,
            -self.timers_at_risk,
            -self.silent_sources,
            not self.contract_ending,
            -self.open_incidents,
            self.customer.name.lower(),
        )


def timer_health_counts(*, now: datetime | None = None) -> dict[str, tuple[int, int]]:
    """schema -> (timers at risk, timers breached), over every customer's open timers in one GROUP BY on the public
    ``TimerIndex`` (which holds open timers only: a met or cancelled timer leaves it).

    Breached: the breach was recorded, or the deadline has passed and the sweep has not run yet. At risk: running,
    not breached, deadline within ``MDR_HEALTH_AT_RISK_MINUTES`` from now (a paused timer has no deadline and is
    neither). Only those rows are read (the deadline index and the partial index of breached rows)."""
    now = now or timezone.now()
    horizon = now + timedelta(minutes=settings.MDR_HEALTH_AT_RISK_MINUTES)
    breached = Q(breached=True) | Q(deadline__lt=now)
    rows = (
        TimerIndex.objects.filter(Q(breached=True) | Q(deadline__lt=horizon))
        .values("schema_name")
        .annotate(
            at_risk=Count("id", filter=Q(breached=False, deadline__gte=now, deadline__lt=horizon)),
            breached=Count("id", filter=breached),
        )
        .values_list("schema_name", "at_risk", "breached")
    )
    return {schema: (at_risk, n_breached) for schema, at_risk, n_breached in rows}


def customer_health_list(*, now: datetime | None = None) -> list[CustomerHealthRow]:
    """Every customer (offboarded ones included, as the list always showed them) with its health, most urgent
    first. Two queries whatever the number of customers: customers joined to their rollup row with their domains
    as an array, and the timer counts."""
    from django.contrib.postgres.expressions import ArraySubquery
    from django.db.models import OuterRef

    from tenants.models import Domain
    from tenants.selectors import customer_list

    now = now or timezone.now()
    domains = Domain.objects.filter(tenant=OuterRef("pk")).order_by("-is_primary", "domain").values("domain")
    customers = customer_list().select_related("health").annotate(domain_list=ArraySubquery(domains))
    timers = timer_health_counts(now=now)
    ending_by = now.date() + timedelta(days=CONTRACT_ENDING_DAYS)
    rows = []
    for customer in customers:
        health = getattr(customer, "health", None)
        at_risk, n_breached = timers.get(customer.schema_name, (0, 0))
        contract_end = health.contract_end if health else None
        rows.append(
            CustomerHealthRow(
                customer=customer,
                domains=list(customer.domain_list or []),
                open_incidents=health.open_incidents if health else 0,
                open_p1=health.open_p1 if health else 0,
                last_alert_at=health.last_alert_at if health else None,
                silent_sources=health.silent_sources if health else 0,
                contract_end=contract_end,
                refreshed_at=health.refreshed_at if health else None,
                timers_at_risk=at_risk,
                timers_breached=n_breached,
                contract_ending=contract_end is not None and contract_end <= ending_by,
            )
        )
    rows.sort(key=lambda r: r.attention_key)
    return rows
