"""The processing pipeline every ingested alert goes through, in order (DESIGN.md §4, step 5).

normalise (done at ingest) -> scope -> priority -> SLA -> correlation -> escalation

Each step takes the batch of alerts (locked, unprocessed rows of the current customer schema) and changes
them in memory or writes its own records; ``run_pipeline`` then saves the fields the steps own and marks the
alerts processed, all in the caller's transaction. A step must be idempotent: a batch can be delivered again.
Later issues replace the identity steps (scope: contract scope, issue 4; SLA: timers, issue 5; correlation
and escalation: issue 6).
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone

from mdr.alerts.models import Alert, Priority

Step = Callable[[list[Alert]], None]


def scope_step(alerts: list[Alert]) -> None:
    """Identity until contract scope exists (issue 4): alerts stay ``pending``."""


def priority_step(alerts: list[Alert]) -> None:
    """Priority from severity alone until asset criticality exists (issue 4 makes it severity x criticality)."""
    for alert in alerts:
        if alert.severity_id >= 5:
            alert.priority = Priority.P1
        elif alert.severity_id == 4:
            alert.priority = Priority.P2
        elif alert.severity_id == 3:
            alert.priority = Priority.P3
        else:
            alert.priority = Priority.P4


def sla_step(alerts: list[Alert]) -> None:
    """Identity until the SLA engine exists (issue 5)."""


def correlation_step(alerts: list[Alert]) -> None:
    """Identity until incidents exist (issue 6)."""


def escalation_step(alerts: list[Alert]) -> None:
    """Identity until escalation exists (issue 6)."""


STEPS: list[tuple[str, Step]] = [
    ("scope", scope_step),
    ("priority", priority_step),
    ("sla", sla_step),
    ("correlation", correlation_step),
    ("escalation", escalation_step),
]
SAVED_FIELDS = ["scope_status", "priority", "incident_id", "processed_at"]


def run_pipeline(alerts: list[Alert]) -> None:
    if not alerts:
        return
    for _name, step in STEPS:
        step(alerts)
    now = timezone.now()
    for alert in alerts:
        alert.processed_at = now
    Alert.objects.bulk_update(alerts, SAVED_FIELDS, batch_size=1000)
