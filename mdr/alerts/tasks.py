"""Alert actors: thin wrappers around services, with explicit retry policy."""

import dramatiq

from mdr.alerts.services import alert_batch_process

MAX_RETRIES = 10  # above MDR_JOB_MAX_ATTEMPTS: the service's own count decides when to give up


@dramatiq.actor(
    queue_name="default", max_retries=MAX_RETRIES, min_backoff=1_000, max_backoff=60_000, time_limit=300_000
)
def alerts_process(outbox_id: int) -> None:
    alert_batch_process(outbox_id=outbox_id)
