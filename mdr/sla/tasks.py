"""SLA actors: thin wrappers around services."""

import dramatiq

from mdr.sla.services import timer_due


@dramatiq.actor(queue_name="default", max_retries=5, min_backoff=1_000, max_backoff=60_000, time_limit=300_000)
def sla_timer_due(timer_ids: list) -> None:
    """Due timers of this customer (from the sweep's fan-out): warnings and breaches, each timer on its own."""
    for timer_id in timer_ids:
        timer_due(timer_id=int(timer_id))
