"""Work-table actors."""

import dramatiq

from mdr.jobs.services import due_work_dispatch


@dramatiq.actor(
    tenant_scope="public",
    queue_name="default",
    max_retries=5,
    min_backoff=1_000,
    max_backoff=60_000,
    time_limit=120_000,
)
def duework_fanout(items: list) -> None:
    """Due work claimed by the sweep: one message per customer and handler, sent in that customer's schema."""
    due_work_dispatch(items=items)


@dramatiq.actor(queue_name="default", max_retries=3, min_backoff=1_000, max_backoff=30_000, time_limit=60_000)
def customer_health_refresh_task(refs: list) -> None:
    """This customer's health row, from the due-work sweep (refs: ["health"]): recompute and upsert (idempotent)."""
    from mdr.jobs.health import customer_health_refresh

    customer_health_refresh()
