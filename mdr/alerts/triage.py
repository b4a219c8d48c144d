"""Analyst triage of alerts: acknowledge, assign, classify, comment, close and reopen.

Every action is one transaction that changes the alert, appends to its activity history, writes the audit
record (in the customer's schema: the customer sees who at the provider did what) and moves the SLA clocks:
acknowledging meets the alert's ``acknowledge`` timer, closing meets its ``resolve`` timer, reopening starts a
new ``resolve`` cycle on the same goal and calendar.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mdr.alerts.models import Alert, AlertActivity, AlertStatus, Classification
from mdr.audit.services import Actor, audit_record
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import OPEN_STATES, SlaTimer
from mdr.sla.services import timer_start, timer_stop


class TriageError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


def _record(alert: Alert, kind: str, actor: Actor, at: datetime, **data) -> None:
    AlertActivity.objects.create(alert=alert, kind=kind, at=at, actor=actor.name, data=data)
    audit_record(actor=actor, action=f"alert.{kind}", target_type="alert", target_id=alert.pk, data=data)


def _stop_timer(alert: Alert, metric: str, at: datetime, actor: Actor) -> None:
    timer = SlaTimer.objects.filter(
        subject_type="alert", subject_id=str(alert.pk), metric=metric, state__in=OPEN_STATES
    ).first()
    if timer is not None:
        timer_stop(timer=timer, at=at, actor=actor)


def alert_acknowledge(*, alert: Alert, actor: Actor, at: datetime | None = None) -> Alert:
    """First analyst action: the alert is being looked at. Meets the acknowledge clock; idempotent."""
    at = at or timezone.now()
    with transaction.atomic():
        alert = _locked(alert)
        if alert.acknowledged_at is not None:
            return alert
        if alert.status == AlertStatus.CLOSED:
            raise TriageError("status", _("the alert is closed"))
        alert.acknowledged_at = at
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.save(update_fields=["acknowledged_at", "status"])
        _stop_timer(alert, "acknowledge", at, actor)
        _record(alert, "acknowledge", actor, at)
    return alert


def alert_assign(*, alert: Alert, assignee: str, actor: Actor, at: datetime | None = None) -> Alert:
    """Assign to an analyst (by name; empty to unassign). Assigning also acknowledges."""
    at = at or timezone.now()
    assignee = (assignee or "").strip()[:200]
    with transaction.atomic():
        if assignee:
            alert_acknowledge(alert=alert, actor=actor, at=at)
        alert = _locked(alert)
        previous = alert.assignee
        alert.assignee = assignee
        if assignee and alert.status == AlertStatus.ACKNOWLEDGED:
            alert.status = AlertStatus.IN_PROGRESS
        alert.save(update_fields=["assignee", "status"])
        _record(alert, "assign", actor, at, assignee=assignee, previous=previous)
    return alert


def alert_comment(*, alert: Alert, text: str, actor: Actor, at: datetime | None = None) -> AlertActivity:
    text = (text or "").strip()
    if not text:
        raise TriageError("text", _("a comment needs text"))
    at = at or timezone.now()
    with transaction.atomic():
        _record(alert, "comment", actor, at, text=text[:10_000])
    return AlertActivity.objects.filter(alert=alert, kind="comment").order_by("-id").first()


def alert_classify(
    *, alert: Alert, classification: str, actor: Actor, reason: str = "", close: bool = True, at: datetime | None = None
) -> Alert:
    """Decide what the alert was. Closing (the default) meets the resolve clock; a false positive or duplicate
    must say why."""
    if classification not in Classification.values:
        raise TriageError("classification", _("one of %(choices)s") % {"choices": Classification.values})
    if classification in (Classification.FALSE_POSITIVE, Classification.DUPLICATE) and not reason.strip():
        raise TriageError("reason", _("say why the alert is a %(value)s") % {"value": classification.replace("_", " ")})
    at = at or timezone.now()
    with transaction.atomic():
        alert = alert_acknowledge(alert=alert, actor=actor, at=at)
        alert = _locked(alert)
        alert.classification = classification
        fields = ["classification"]
        if close:
            alert.status = AlertStatus.CLOSED
            alert.closed_at = at
            fields += ["status", "closed_at"]
        alert.save(update_fields=fields)
        if close:
            _stop_timer(alert, "resolve", at, actor)
        _record(alert, "classify", actor, at, classification=classification, reason=reason.strip()[:2000], closed=close)
    return alert


def alert_reopen(*, alert: Alert, reason: str, actor: Actor, at: datetime | None = None) -> Alert:
    """Reopen a closed alert: a new resolve cycle starts on the goal and calendar of the last one."""
    if not (reason or "").strip():
        raise TriageError("reason", _("reopening needs a reason"))
    at = at or timezone.now()
    with transaction.atomic():
        alert = _locked(alert)
        if alert.status != AlertStatus.CLOSED:
            raise TriageError("status", _("only a closed alert can be reopened"))
        alert.status = AlertStatus.IN_PROGRESS if alert.assignee else AlertStatus.ACKNOWLEDGED
        alert.closed_at = None
        alert.save(update_fields=["status", "closed_at"])
        last = (
            SlaTimer.objects.filter(subject_type="alert", subject_id=str(alert.pk), metric="resolve")
            .order_by("-started_at")
            .first()
        )
        if last is not None:
            timer_start(
                subject_type="alert",
                subject_id=str(alert.pk),
                metric="resolve",
                priority=alert.priority,
                goal_seconds=last.goal_seconds,
                calendar=BusinessCalendar.from_dict(last.calendar_spec),
                at=at,
                policy=last.policy,
                warning_thresholds=last.warning_thresholds,
                actor=actor,
            )
        _record(alert, "reopen", actor, at, reason=reason.strip()[:2000])
    return alert
