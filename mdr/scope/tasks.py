"""Scope actors: thin wrappers around services."""

import dramatiq

from mdr.scope.services import logsource_check_silence


@dramatiq.actor(queue_name="default", max_retries=5, min_backoff=5_000, max_backoff=300_000, time_limit=60_000)
def scope_logsource_check(source_keys: list) -> None:
    """Due silence checks of this customer's log sources (from the sweep's fan-out)."""
    for source_key in source_keys:
        logsource_check_silence(source_key=source_key)
