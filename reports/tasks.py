"""Report actors, in their own ``reports`` queue so rendering never delays notifications. Thin: load by id, call
a service."""

import dramatiq

from reports.services import report_generate_due, report_notify, report_publish


@dramatiq.actor(queue_name="reports", max_retries=3, min_backoff=10_000, max_backoff=300_000, time_limit=1_800_000)
def report_generate_task(refs: list) -> None:
    """Due work of the monthly schedule (the ref is ``monthly``): the previous month's draft, then the next date."""
    report_generate_due()


@dramatiq.actor(queue_name="reports", max_retries=3, min_backoff=10_000, max_backoff=300_000, time_limit=1_800_000)
def report_publish_task(report_id: str) -> None:
    report_publish(report_id=report_id)


@dramatiq.actor(queue_name="reports", max_retries=3, min_backoff=10_000, max_backoff=300_000, time_limit=1_800_000)
def report_publish_due_task(refs: list) -> None:
    """Due work: publications whose message was lost (Redis down, the rendering worker killed) when the lease ran
    out."""
    for report_id in refs:
        report_publish(report_id=report_id)


@dramatiq.actor(queue_name="notifications", max_retries=5, min_backoff=5_000, max_backoff=300_000, time_limit=60_000)
def report_notify_task(report_id: str) -> None:
    report_notify(report_id=report_id)
