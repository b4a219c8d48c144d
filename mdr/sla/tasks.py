"""SLA actors: thin wrappers around services."""

import dramatiq

from mdr.sla.services import timer_due


@dramatiq.actor(queue_name="default", max_retries=5, min_backoff=1_000, max_backoff=60_000, time_limit=60_000)
def sla_timer_due(timer_id: str) -> None:
    timer_due(timer_id=int(timer_id))
