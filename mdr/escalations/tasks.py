"""Escalation actors: thin wrappers around services. Each takes the refs the due-work sweep (or an on-commit send)
hands over; every handler is idempotent, so a redelivered message finds nothing left to do."""

import dramatiq

from mdr.escalations.services import delivery_attempt, escalation_step


@dramatiq.actor(queue_name="notifications", max_retries=5, min_backoff=1_000, max_backoff=60_000, time_limit=120_000)
def escalation_step_task(escalation_ids: list) -> None:
    for escalation_id in escalation_ids:
        escalation_step(escalation_id=escalation_id)


# Retries of a failed send are the service's own (recorded attempts, backoff through the due-work index); dramatiq's
# retries only cover a crash of the handler itself.
@dramatiq.actor(queue_name="notifications", max_retries=3, min_backoff=1_000, max_backoff=30_000, time_limit=300_000)
def delivery_attempt_task(delivery_ids: list) -> None:
    for delivery_id in delivery_ids:
        delivery_attempt(delivery_id=int(delivery_id))


@dramatiq.actor(queue_name="notifications", max_retries=5, min_backoff=1_000, max_backoff=60_000, time_limit=120_000)
def contact_expiry_task(contact_ids: list) -> None:
    from mdr.escalations.contacts import contact_expiry_due

    contact_expiry_due(contact_ids=[int(pk) for pk in contact_ids])


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=300_000)
def fire_drill_task(requested_by: str) -> None:
    """Not retried: a second drill would send the customer a second test notice."""
    from mdr.audit.services import Actor
    from mdr.escalations.drill import fire_drill

    fire_drill(actor=Actor(type="provider_staff", name=requested_by[:200]), wait_seconds=120)
