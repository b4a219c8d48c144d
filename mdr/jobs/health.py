"""The customer-health rollup: each customer's figures computed inside its own schema by a worker and kept in the
public ``CustomerHealth`` table, so the console's customer list reads every customer's health with one query
instead of entering 2,000 schemas per request.

Services that change what the rollup shows (alert batches processed, incidents created or moved, log-source silence
detected, contracts published) call ``customer_health_touch()``: one due-work row per customer
(``customer_health_refresh_task`` / ``health``) due ``MDR_HEALTH_REFRESH_DELAY_SECONDS`` ahead and never moved
, so a burst of alerts costs one refresh, and a steady stream still refreshes at least that often. The sweep
hands the row to the actor in the customer's schema, which runs ``customer_health_refresh`` (a few aggregate
queries on indexed columns) and upserts the row.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Q
from django.utils import timezone

from mdr.jobs.models import CustomerHealth
from mdr.jobs.services import due_work_schedule

log = logging.getLogger(__name__)

HEALTH_ACTOR = "customer_health_refresh_task"
HEALTH_REF = "health"


def customer_health_touch(*, now: datetime | None = None) -> None:
    """Ask for the current customer's health row to be computed again within the refresh delay (coalesced: one
    pending refresh per customer). A no-op in public. Runs inside the caller's transaction: a rolled-back change
    asks for nothing."""
    schema = connection.schema_name
    if schema == "public":
        return
    due_at = (now or timezone.now()) + timedelta(seconds=settings.MDR_HEALTH_REFRESH_DELAY_SECONDS)
    due_work_schedule(kind=HEALTH_ACTOR, ref=HEALTH_REF, due_at=due_at, keep_existing=True)


def customer_health_refresh(*, now: datetime | None = None) -> CustomerHealth | None:
    """Compute the current customer's figures in its schema and upsert its public row (idempotent; two workers at
    once both write a correct row). Returns None for a schema that is no customer (or an offboarded one)."""
    from mdr.alerts.models import Alert
    from mdr.incidents.models import OPEN_STATES, Incident
    from mdr.scope.models import CoverageDegradation
    from mdr.scope.selectors import contract_current
    from tenants.constants import CustomerStatus
    from tenants.models import Customer

    schema = connection.schema_name
    customer_id = (
        Customer.objects.filter(schema_name=schema)
        .exclude(status=CustomerStatus.OFFBOARDED)
        .exclude(schema_name="public")
        .values_list("pk", flat=True)
        .first()
    )
    if customer_id is None:
        return None
    incidents = Incident.objects.filter(state__in=OPEN_STATES).aggregate(
        open=Count("id"), p1=Count("id", filter=Q(priority="P1"))
    )
    contract = contract_current()
    row = CustomerHealth(
        customer_id=customer_id,
        open_incidents=incidents["open"],
        open_p1=incidents["p1"],
        last_alert_at=Alert.objects.aggregate(at=Max("received_at"))["at"],  # backward scan of its index
        silent_sources=CoverageDegradation.objects.filter(ended_at__isnull=True).count(),
        contract_end=contract.ends_on if contract else None,
        refreshed_at=now or timezone.now(),
    )
    CustomerHealth.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["customer"],
        update_fields=["open_incidents", "open_p1", "last_alert_at", "silent_sources", "contract_end", "refreshed_at"],
    )
    log.info("jobs.health.refreshed", extra={"schema": schema, "open": row.open_incidents, "p1": row.open_p1})
    return row
