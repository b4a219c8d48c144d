"""Read queries on the public work tables that the console shows across customers (no customer schema entered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from mdr.jobs.models import OpenRequestIndex, OpenRequestKind
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
