"""The processing pipeline every ingested alert goes through, in order (DESIGN.md §4, step 5).

normalise (done at ingest) -> scope -> priority -> SLA -> correlation -> escalation

Each step takes the batch of alerts (locked, unprocessed rows of the current customer schema) and changes
them in memory or writes its own records; ``run_pipeline`` then saves the fields the steps own and marks the
alerts processed, all in the caller's transaction. A step must be idempotent: a batch can be delivered again.
Escalation only acts for matrix rules marked ``auto``; otherwise an analyst escalates after triage.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone

from mdr.alerts.models import Alert, Priority

Step = Callable[[list[Alert]], None]


def scope_step(alerts: list[Alert]) -> None:
    """Classify against the contract version in force at each alert's time (mdr.scope)."""
    from mdr.scope.services import alerts_classify

    alerts_classify(alerts)


# Priority = severity x asset criticality (rows: OCSF severity band, columns: criticality).
PRIORITY_MATRIX = {
    "critical": {"critical": Priority.P1, "high": Priority.P1, "medium": Priority.P1, "low": Priority.P2},
    "high": {"critical": Priority.P1, "high": Priority.P2, "medium": Priority.P2, "low": Priority.P3},
    "medium": {"critical": Priority.P2, "high": Priority.P3, "medium": Priority.P3, "low": Priority.P4},
    "low": {"critical": Priority.P3, "high": Priority.P4, "medium": Priority.P4, "low": Priority.P4},
}
WORKED_SCOPE = ("in_scope", "unknown_asset")  # an unknown asset may be a real attack on an unmanaged machine


def _severity_band(severity_id: int) -> str:
    if severity_id >= 5:
        return "critical"
    if severity_id == 4:
        return "high"
    if severity_id == 3:
        return "medium"
    return "low"


def priority_step(alerts: list[Alert]) -> None:
    """Severity x criticality for alerts the SOC works (in scope, unknown asset at medium); P4 for the rest. The
    matrix is the contract version's own when it sets one, else PRIORITY_MATRIX."""
    from mdr.scope.models import ContractVersion

    matrices = dict(
        ContractVersion.objects.filter(pk__in={a.contract_version_id for a in alerts if a.contract_version_id})
        .exclude(priority_matrix={})
        .values_list("pk", "priority_matrix")
    )
    for alert in alerts:
        if alert.scope_status in WORKED_SCOPE:
            criticality = alert.criticality if alert.scope_status == "in_scope" and alert.criticality else "medium"
            matrix = matrices.get(alert.contract_version_id, PRIORITY_MATRIX)
            alert.priority = matrix[_severity_band(alert.severity_id)][criticality]
        else:
            alert.priority = Priority.P4


def sla_step(alerts: list[Alert]) -> None:
    """Start the acknowledge and resolve clocks of in-scope alerts, per the SLA policy of the contract version
    that classified them (alerts over quota or out of scope get no SLA)."""
    from mdr.scope.models import ContractVersion
    from mdr.scope.selectors import coverage_calendar
    from mdr.sla.models import SlaPolicy
    from mdr.sla.services import alert_timers_start

    by_version: dict[int, list[Alert]] = {}
    for alert in alerts:
        if alert.scope_status == "in_scope" and alert.contract_version_id:
            by_version.setdefault(alert.contract_version_id, []).append(alert)
    for version in ContractVersion.objects.filter(pk__in=list(by_version), sla_policy_id__isnull=False):
        policy = SlaPolicy.objects.filter(pk=version.sla_policy_id).first()
        if policy is not None:
            alert_timers_start(
                alerts=by_version[version.pk],
                policy=policy,
                coverage=coverage_calendar(version),
                timezone_name=version.timezone,
            )


def correlation_step(alerts: list[Alert]) -> None:
    """Group worked alerts into incidents by the customer's correlation rules, and start the new incidents' clock
    for notifying the customer (mdr.incidents)."""
    from mdr.incidents.services import alerts_correlate, incidents_timers_start

    alerts_correlate(alerts)
    incidents_timers_start(alerts)


def escalation_step(alerts: list[Alert]) -> None:
    """Escalate the incidents these alerts joined when a matrix rule says so without an analyst (``auto``)."""
    from mdr.escalations.services import incidents_auto_escalate

    incidents_auto_escalate(incident_ids={a.incident_id for a in alerts if a.incident_id})


STEPS: list[tuple[str, Step]] = [
    ("scope", scope_step),
    ("priority", priority_step),
    ("sla", sla_step),
    ("correlation", correlation_step),
    ("escalation", escalation_step),
]
SAVED_FIELDS = [
    "scope_status",
    "scope_reason",
    "criticality",
    "remediation_allowed",
    "contract_version_id",
    "in_coverage",
    "priority",
    "incident_id",
    "processed_at",
]


def run_pipeline(alerts: list[Alert]) -> None:
    if not alerts:
        return
    for _name, step in STEPS:
        step(alerts)
    now = timezone.now()
    for alert in alerts:
        alert.processed_at = now
    Alert.objects.bulk_update(alerts, SAVED_FIELDS, batch_size=1000)
