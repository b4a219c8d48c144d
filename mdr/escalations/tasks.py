"""Escalation actors: thin wrappers around services."""

import dramatiq

from mdr.escalations.services import escalation_step


@dramatiq.actor(queue_name="notifications", max_retries=5, min_backoff=1_000, max_backoff=60_000, time_limit=120_000)
def escalation_step_task(escalation_ids: list) -> None:
    for escalation_id in escalation_ids:
        escalation_step(escalation_id=escalation_id)
