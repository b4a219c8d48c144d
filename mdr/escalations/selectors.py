"""Read queries of the escalation app."""

from __future__ import annotations

from django.db.models import Prefetch

from mdr.escalations.models import Delivery, DeliveryAttempt, Escalation


def escalation_list_for_incident(*, incident_id, with_attempts: bool) -> list[dict]:
    """The incident's escalations with every delivery (the proof of notification). ``with_attempts`` adds each
    attempt (provider view); the customer sees what was sent to whom, when, and whether it arrived."""
    deliveries = Delivery.objects.select_related("contact").order_by("created_at", "pk")
    if with_attempts:
        deliveries = deliveries.prefetch_related(
            Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
        )
    out = []
    for escalation in (
        Escalation.objects.filter(incident_id=incident_id)
        .select_related("matrix")
        .prefetch_related(Prefetch("deliveries", queryset=deliveries))
        .order_by("started_at")
    ):
        out.append(
            {
                "id": str(escalation.pk),
                "state": escalation.state,
                "matrix_version": escalation.matrix.version,
                "rule": escalation.rule_index,
                "level": escalation.level,
                "cycle": escalation.cycle,
                "started_at": escalation.started_at,
                "acknowledged_at": escalation.acknowledged_at,
                "acknowledged_by": escalation.acknowledged_by,
                "ack_channel": escalation.ack_channel,
                "deliveries": [_delivery(d, with_attempts) for d in escalation.deliveries.all()],
            }
        )
    return out


def _delivery(delivery: Delivery, with_attempts: bool) -> dict:
    row = {
        "notice": delivery.notice_kind,
        "sequence": delivery.sequence,
        "level": delivery.level,
        "cycle": delivery.cycle,
        "contact": delivery.contact.name,
        "channel": delivery.channel,
        "target": delivery.target,
        "state": delivery.state,
        "created_at": delivery.created_at,
        "delivered_at": delivery.delivered_at,
        "attempts": delivery.attempts,
        "message_id": delivery.message_id,
    }
    if with_attempts:
        row["attempt_log"] = [
            {
                "number": a.number,
                "at": a.at,
                "ok": a.ok,
                "status_code": a.status_code,
                "response": a.response,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in delivery.attempt_log.all()
        ]
        row["last_error"] = delivery.last_error
    return row


def proposal_list_pending_first():
    """The customer's change proposals for the provider's review: pending ones first, then the decided and withdrawn
    ones; newest first within each group."""
    from django.db.models import BooleanField, Case, Value, When

    from mdr.escalations.models import ChangeProposal, ProposalState

    pending = Case(
        When(state=ProposalState.PENDING, then=Value(True)), default=Value(False), output_field=BooleanField()
    )
    return (
        ChangeProposal.objects.select_related("contact")
        .annotate(is_pending=pending)
        .order_by("-is_pending", "-proposed_at", "pk")
    )


def proposal_get(*, proposal_id):
    """One change proposal of the current schema, None for an unknown or malformed id."""
    import uuid

    from mdr.escalations.models import ChangeProposal

    try:
        pk = uuid.UUID(str(proposal_id))
    except ValueError:
        return None
    return ChangeProposal.objects.select_related("contact").filter(pk=pk).first()


def escalation_matrix_current():
    """The matrix version in force (the latest), or None."""
    from mdr.escalations.models import EscalationMatrix

    return EscalationMatrix.objects.order_by("-version").first()


# ---- matrix versions as plain data, for the console's version pages and diffs (mdr.core.versiondiff) ----------


def matrix_list():
    """Every matrix version, newest first."""
    from mdr.escalations.models import EscalationMatrix

    return EscalationMatrix.objects.order_by("-version")


def matrix_get(*, version: int):
    from mdr.escalations.models import EscalationMatrix

    return EscalationMatrix.objects.filter(version=version).first()


def matrix_previous(*, matrix):
    from mdr.escalations.models import EscalationMatrix

    return EscalationMatrix.objects.filter(version__lt=matrix.version).order_by("-version").first()


def contact_names() -> dict[int, str]:
    """Contact id -> name, archived ones included (old matrix versions name them)."""
    from mdr.escalations.models import Contact

    return dict(Contact.objects.values_list("pk", "name"))


def matrix_rules_as_dict(*, rules: list, names: dict[int, str] | None = None) -> dict:
    """Rules with their defaults spelled out (window any, mode parallel, repeat 0, not automatic), contacts by name
    and id, so that a rule written with or without a default is the same rule."""
    names = contact_names() if names is None else names
    out = []
    for rule in rules or []:
        if not isinstance(rule, dict):
            out.append(rule)
            continue
        data = {
            "min_priority": rule.get("min_priority"),
            "categories": list(rule.get("categories") or []),
            "sources": list(rule.get("sources") or []),
            "window": rule.get("window", "any"),
            "auto": rule.get("auto", False),
            "repeat": rule.get("repeat", 0),
        }
        if data["window"] != "any":
            data["calendar"] = rule.get("calendar")
        data["levels"] = [
            {
                "contacts": [f"{names.get(c, '?')} (#{c})" for c in level.get("contacts") or []],
                "channels": list(level.get("channels") or []),
                "wait_minutes": level.get("wait_minutes"),
                "mode": level.get("mode", "parallel"),
            }
            if isinstance(level, dict)
            else level
            for level in rule.get("levels") or []
        ]
        out.append(data)
    return {"rules": out}
