"""Read queries on incidents for the customer's side: lists, one incident, its customer-visible timeline, the open
incidents per priority, the incidents waiting for the customer's acknowledgement, and the customer's SLA timers
nearest to breach (from the public timer index, filtered by the customer's schema)."""

from __future__ import annotations

import uuid

from django.db.models import Count, OuterRef, QuerySet, Subquery

from mdr.escalations.models import Escalation, EscalationState
from mdr.incidents.models import OPEN_STATES, ActionStatus, Incident, IncidentEvent, RecommendedAction, Visibility
from mdr.jobs.models import TimerIndex

PRIORITIES = ("P1", "P2", "P3", "P4")


def incident_list() -> QuerySet[Incident]:
    """The current customer's incidents, newest first."""
    return Incident.objects.order_by("-created_at", "-id")


def incident_get(*, incident_id) -> Incident | None:
    """One incident of the current schema, None for an unknown or malformed id."""
    try:
        pk = uuid.UUID(str(incident_id))
    except ValueError:
        return None
    return Incident.objects.filter(pk=pk).first()


def incident_timeline_customer(*, incident: Incident) -> QuerySet[IncidentEvent]:
    """The part of the timeline the customer may see (never internal notes), oldest first."""
    return IncidentEvent.objects.filter(incident=incident, visibility=Visibility.CUSTOMER).order_by("at", "id")


def incident_open_counts_by_priority() -> list[tuple[str, int]]:
    """(priority, number of open incidents) for P1-P4, in that order, zeros included."""
    counts = dict(
        Incident.objects.filter(state__in=OPEN_STATES)
        .values_list("priority")
        .annotate(n=Count("id"))
        .values_list("priority", "n")
    )
    return [(p, counts.get(p, 0)) for p in PRIORITIES]


def incident_list_awaiting_acknowledgement() -> QuerySet[Incident]:
    """Incidents with a running escalation (notified or being notified, not acknowledged yet), oldest escalation
    first; each carries ``escalation_started_at``."""
    running = Escalation.objects.filter(incident_id=OuterRef("pk"), state=EscalationState.RUNNING).order_by(
        "started_at"
    )
    return (
        Incident.objects.annotate(escalation_started_at=Subquery(running.values("started_at")[:1]))
        .filter(escalation_started_at__isnull=False)
        .order_by("escalation_started_at")
    )


def incident_has_running_escalation(*, incident: Incident) -> bool:
    latest = Escalation.objects.filter(incident_id=incident.pk).order_by("-started_at").values("state").first()
    return bool(latest) and latest["state"] == EscalationState.RUNNING


def timer_list_nearest_breach(*, schema_name: str, limit: int = 10) -> list[TimerIndex]:
    """The customer's open SLA timers with a deadline, nearest first (breached ones first of all). Paused timers
    have no deadline and are left out."""
    return list(
        TimerIndex.objects.filter(schema_name=schema_name, deadline__isnull=False).order_by("deadline", "timer_id")[
            :limit
        ]
    )


def incident_timeline_full(*, incident: Incident) -> QuerySet[IncidentEvent]:
    """The whole timeline for provider staff (internal notes and customer-visible updates), oldest first."""
    return IncidentEvent.objects.filter(incident=incident).order_by("at", "id")


def recommended_action_list(*, incident: Incident) -> QuerySet[RecommendedAction]:
    """The incident's recommended actions in the order the SOC gave them."""
    return RecommendedAction.objects.filter(incident=incident).order_by("position", "id")


def recommended_action_get(*, incident: Incident, action_id) -> RecommendedAction | None:
    """One action of this incident (None for another incident's action or a malformed id)."""
    try:
        pk = int(str(action_id))
    except ValueError:
        return None
    return RecommendedAction.objects.filter(incident=incident, pk=pk).select_related("incident").first()


def recommended_action_help_count(*, incident: Incident) -> int:
    return RecommendedAction.objects.filter(incident=incident, status=ActionStatus.NEED_HELP).count()
