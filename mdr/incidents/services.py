"""Incidents: correlation (the pipeline's step), lifecycle, priority changes, notes, merge and split, and the
recommended actions the customer works through.

Every change writes the incident's timeline and the audit log (customer schema). Moving to
``awaiting_customer`` pauses the incident's SLA clocks (reason recorded) and leaving it resumes them; a severity or
priority change needs a reason and swaps the goals of the running clocks (start and elapsed kept).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mdr.alerts.models import Alert
from mdr.audit.services import Actor, audit_record
from mdr.incidents.models import (
    OPEN_STATES,
    TRANSITIONS,
    ActionStatus,
    CorrelationRule,
    Incident,
    IncidentEvent,
    IncidentState,
    RecommendedAction,
    Visibility,
)
from mdr.jobs.health import customer_health_touch
from mdr.jobs.models import OpenRequestIndex, OpenRequestKind
from mdr.sla.models import OPEN_STATES as TIMER_OPEN_STATES
from mdr.sla.models import SlaTimer, TimerState
from mdr.sla.services import timer_change_goal, timer_pause, timer_resume, timer_start, timer_stop

SYSTEM = Actor.system("correlation")
PRIORITY_ORDER = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
# Used while a customer has configured no rules of its own.
DEFAULT_RULES = [
    CorrelationRule(name="same-host", key="host", window_minutes=60, max_priority="P3", position=0),
    CorrelationRule(name="same-user", key="user", window_minutes=60, max_priority="P3", position=1),
]


class IncidentError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _event(
    incident: Incident,
    kind: str,
    actor: Actor,
    at: datetime,
    *,
    text: str = "",
    visibility: str = Visibility.INTERNAL,
    **data,
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident, kind=kind, at=at, actor=actor.name, visibility=visibility, text=text, data=data
    )


def _key(alert: Alert, key: str) -> str | None:
    values = {
        "host": alert.hosts,
        "user": alert.users,
        "rule": [f"{alert.source_format}:{alert.rule_id}"] if alert.rule_id else [],
        "technique": alert.techniques,
    }[key]
    return str(values[0]).lower()[:255] if values else None


def _rules() -> list[CorrelationRule]:
    configured = list(CorrelationRule.objects.filter(enabled=True))
    return configured or DEFAULT_RULES


def _attach(incident: Incident, alerts: list[Alert], actor: Actor, at: datetime) -> None:
    Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(incident_id=incident.pk)
    for alert in alerts:
        alert.incident_id = incident.pk
    _fold(incident, alerts)
    incident.save(
        update_fields=["alert_count", "severity_id", "priority", "first_alert_at", "last_alert_at", "updated_at"]
    )
    _event(incident, "alerts_added", actor, at, alert_ids=[str(a.pk) for a in alerts])


def alerts_correlate(alerts: list[Alert], *, now: datetime | None = None) -> int:
    """The pipeline's correlation step: attach each eligible alert to the open incident of the first rule whose key
    it has (within the rule's window of that incident's last alert), opening one when there is none. Set-based: a
    handful of statements per batch. The alerts' ``incident_id`` is set in memory (the pipeline saves it)."""
    now = now or timezone.now()
    rules = _rules()
    rule_by_name = {r.name: r for r in rules}
    groups: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        if alert.incident_id or alert.scope_status not in ("in_scope", "unknown_asset") or not alert.priority:
            continue
        for rule in rules:
            if PRIORITY_ORDER.get(alert.priority, 9) > PRIORITY_ORDER.get(rule.max_priority, 3):
                continue
            key = _key(alert, rule.key)
            if key:
                groups.setdefault((rule.name, key), []).append(alert)
                break
    if not groups:
        return 0
    open_by_key = {
        (i.correlation_rule, i.correlation_key): i
        for i in Incident.objects.select_for_update().filter(
            state__in=OPEN_STATES,
            correlation_rule__in={r for r, _ in groups},
            correlation_key__in={k for _, k in groups},
        )
        if (i.correlation_rule, i.correlation_key) in groups
    }
    events: list[IncidentEvent] = []
    stale = []
    for (rule_name, key), members in groups.items():
        incident = open_by_key.get((rule_name, key))
        earliest = min(a.observed_at for a in members)
        window = timedelta(minutes=rule_by_name[rule_name].window_minutes)
        if incident is not None and incident.last_alert_at and earliest - incident.last_alert_at > window:
            # Stale: it stays open for the analysts but stops attracting alerts; a new incident takes the key.
            stale.append(incident.pk)
            events.append(
                IncidentEvent(
                    incident=incident,
                    kind="correlation_closed",
                    at=now,
                    actor=SYSTEM.name,
                    data={"rule": rule_name, "key": key},
                )
            )
            del open_by_key[(rule_name, key)]
    if stale:
        Incident.objects.filter(pk__in=stale).update(correlation_rule="", correlation_key="")
    missing = sorted(k for k in groups if k not in open_by_key)
    if missing:
        ours = _open_for_keys(missing, groups)
        reread = Incident.objects.select_for_update().filter(
            state__in=OPEN_STATES,
            correlation_rule__in={r for r, _ in missing},
            correlation_key__in={k for _, k in missing},
        )
        for incident in reread:
            open_by_key[(incident.correlation_rule, incident.correlation_key)] = incident
            if incident.pk in ours:  # created by this call, not by a concurrent worker
                events.append(
                    IncidentEvent(
                        incident=incident,
                        kind="created",
                        at=now,
                        actor=SYSTEM.name,
                        data={"rule": incident.correlation_rule, "key": incident.correlation_key},
                    )
                )
    changed = []
    attached = 0
    for group_key, members in groups.items():
        incident = open_by_key[group_key]
        for alert in members:
            alert.incident_id = incident.pk
        _fold(incident, members)
        changed.append(incident)
        events.append(
            IncidentEvent(
                incident=incident,
                kind="alerts_added",
                at=now,
                actor=SYSTEM.name,
                data={"alert_ids": [str(a.pk) for a in members]},
            )
        )
        attached += len(members)
    Incident.objects.bulk_update(
        changed, ["alert_count", "severity_id", "priority", "first_alert_at", "last_alert_at", "updated_at"]
    )
    IncidentEvent.objects.bulk_create(events)
    return attached


def incidents_timers_start(alerts: list[Alert]) -> int:
    """The pipeline's step after correlation: start the ``notify`` clock of every incident these alerts joined that
    never had one, per the SLA policy of the contract version that classified its in-scope alerts. Set-based: a few
    statements per batch whatever the number of incidents."""
    from mdr.scope.models import ContractVersion
    from mdr.scope.selectors import coverage_calendar
    from mdr.sla.models import SlaPolicy
    from mdr.sla.services import incident_timers_start

    version_of: dict = {}
    for alert in alerts:
        if alert.incident_id and alert.scope_status == "in_scope" and alert.contract_version_id:
            version_of.setdefault(alert.incident_id, alert.contract_version_id)
    if not version_of:
        return 0
    versions = {
        v.pk: v for v in ContractVersion.objects.filter(pk__in=set(version_of.values()), sla_policy_id__isnull=False)
    }
    policies = {p.pk: p for p in SlaPolicy.objects.filter(pk__in={v.sla_policy_id for v in versions.values()})}
    incidents = Incident.objects.filter(pk__in=list(version_of), state__in=OPEN_STATES)
    by_version: dict[int, list[Incident]] = {}
    for incident in incidents:
        if version_of[incident.pk] in versions:
            by_version.setdefault(version_of[incident.pk], []).append(incident)
    started = 0
    for version_id, members in by_version.items():
        version = versions[version_id]
        if version.sla_policy_id in policies:
            started += incident_timers_start(
                incidents=members,
                policy=policies[version.sla_policy_id],
                coverage=coverage_calendar(version),
                timezone_name=version.timezone,
            )
    return started


def _fold(incident: Incident, alerts: list[Alert]) -> None:
    """Count ``alerts`` into ``incident`` in memory: count, worst severity and priority, first and last alert."""
    times = [a.observed_at for a in alerts]
    incident.alert_count += len(alerts)
    incident.severity_id = max([incident.severity_id, *(a.severity_id for a in alerts)])
    incident.priority = min([incident.priority, *(a.priority for a in alerts if a.priority)], key=PRIORITY_ORDER.get)
    incident.first_alert_at = min([t for t in (incident.first_alert_at, *times) if t])
    incident.last_alert_at = max([t for t in (incident.last_alert_at, *times) if t])
    incident.updated_at = timezone.now()


def _open_for_keys(keys: list[tuple[str, str]], groups: dict[tuple[str, str], list[Alert]]) -> set:
    """Insert the open incidents of these (rule, key)s in one statement; a key a concurrent worker took first is
    skipped by the partial unique index (the caller re-reads). Returns the ids this call generated (only those that
    the re-read finds were really inserted by it)."""
    rows = []
    for rule_name, key in keys:
        first = groups[(rule_name, key)][0]
        rows.append(
            Incident(
                title=f"{first.title} ({rule_name}: {key})"[:500],
                severity_id=first.severity_id,
                priority=first.priority,
                correlation_rule=rule_name,
                correlation_key=key,
                alert_count=0,
            )
        )
    Incident.objects.bulk_create(rows, ignore_conflicts=True)
    return {row.pk for row in rows}


def incident_create(*, actor: Actor, title: str, alerts: list[Alert], at: datetime | None = None) -> Incident:
    """An incident opened by hand around the given alerts (moved from their incidents, if any)."""
    if not title.strip():
        raise IncidentError("title", _("an incident needs a title"))
    if not alerts:
        raise IncidentError("alerts", _("at least one alert"))
    at = at or timezone.now()
    with transaction.atomic():
        incident = Incident.objects.create(
            title=title.strip()[:500],
            severity_id=max(a.severity_id for a in alerts),
            priority=min((a.priority or "P4" for a in alerts), key=PRIORITY_ORDER.get),
        )
        _event(incident, "created", actor, at, by_hand=True)
        _detach(alerts, actor, at)
        _attach(incident, alerts, actor, at)
        customer_health_touch()  # the console's customer list (coalesced refresh)
        audit_record(
            actor=actor,
            action="incident.create",
            target_type="incident",
            target_id=incident.pk,
            data={"alerts": len(alerts)},
        )
    return incident


def _detach(alerts: list[Alert], actor: Actor, at: datetime) -> None:
    for incident in Incident.objects.filter(pk__in={a.incident_id for a in alerts if a.incident_id}):
        moved = [a for a in alerts if a.incident_id == incident.pk]
        incident.alert_count = max(0, incident.alert_count - len(moved))
        incident.save(update_fields=["alert_count", "updated_at"])
        _event(incident, "alerts_removed", actor, at, alert_ids=[str(a.pk) for a in moved])
        for alert in moved:
            alert.incident_id = None


def _timers(incident: Incident) -> list[SlaTimer]:
    return list(
        SlaTimer.objects.filter(subject_type="incident", subject_id=str(incident.pk), state__in=TIMER_OPEN_STATES)
    )


def _update_cadence_met(incident: Incident, at: datetime, actor: Actor, *, restart: bool) -> None:
    """A customer-visible update meets the running ``update`` clock (late: its breach is recorded) and, while the
    incident is open, starts the next cycle on the same goal and calendar."""
    from mdr.sla.calendar import BusinessCalendar

    for timer in _timers(incident):
        if timer.metric != "update":
            continue
        timer_stop(timer=timer, at=at, actor=actor)
        if restart:
            timer_start(
                subject_type="incident",
                subject_id=str(incident.pk),
                metric="update",
                priority=timer.priority,
                goal_seconds=timer.goal_seconds,
                calendar=BusinessCalendar.from_dict(timer.calendar_spec),
                at=at,
                policy=timer.policy,
                warning_thresholds=timer.warning_thresholds,
                actor=actor,
            )


def incident_transition(
    *, incident: Incident, to: str, actor: Actor, reason: str = "", at: datetime | None = None
) -> Incident:
    """Move along the lifecycle; awaiting_customer pauses the incident's clocks, leaving it resumes them."""
    at = at or timezone.now()
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if to not in TRANSITIONS.get(incident.state, set()):
            raise IncidentError("state", _("cannot go from %(state)s to %(to)s") % {"state": incident.state, "to": to})
        if to == IncidentState.AWAITING_CUSTOMER and not reason.strip():
            raise IncidentError("reason", _("say what the customer is asked for"))
        previous = incident.state
        incident.state = to
        fields = ["state", "updated_at"]
        if to == IncidentState.RESOLVED:
            incident.resolved_at = at
            fields.append("resolved_at")
        if to == IncidentState.CLOSED:
            incident.closed_at = at
            fields.append("closed_at")
        if to == IncidentState.INVESTIGATING and previous in (IncidentState.RESOLVED, IncidentState.CLOSED):
            incident.resolved_at = incident.closed_at = None
            fields += ["resolved_at", "closed_at"]
        incident.save(update_fields=fields)
        if to in (IncidentState.RESOLVED, IncidentState.CLOSED):
            _update_cadence_met(incident, at, actor, restart=False)  # the final report is the last update
        for timer in _timers(incident):
            if to == IncidentState.AWAITING_CUSTOMER and timer.state == TimerState.RUNNING:
                timer_pause(timer=timer, at=at, reason=f"awaiting customer: {reason.strip()}"[:500], actor=actor)
            elif previous == IncidentState.AWAITING_CUSTOMER and timer.state == TimerState.PAUSED:
                timer_resume(timer=timer, at=at, actor=actor)
        _event(
            incident,
            "state",
            actor,
            at,
            text=reason.strip()[:2000],
            visibility=Visibility.CUSTOMER,
            old=previous,
            new=to,
        )
        customer_health_touch()  # the console's customer list (coalesced refresh)
        audit_record(
            actor=actor,
            action="incident.transition",
            target_type="incident",
            target_id=incident.pk,
            data={"from": previous, "to": to, "reason": reason.strip()[:500]},
        )
    return incident


def incident_set_priority(
    *,
    incident: Incident,
    priority: str,
    severity_id: int | None,
    reason: str,
    actor: Actor,
    goals: dict[str, int] | None = None,
    at: datetime | None = None,
) -> Incident:
    """Change priority (and optionally severity) with a mandatory reason. ``goals`` (metric -> seconds, from the
    SLA policy) swaps the goals of the incident's running clocks, keeping their start and elapsed time."""
    if priority not in PRIORITY_ORDER:
        raise IncidentError("priority", _("P1-P4"))
    if severity_id is not None and not 0 <= severity_id <= 6:
        raise IncidentError("severity_id", _("0-6"))
    if not reason.strip():
        raise IncidentError("reason", _("a priority or severity change needs a reason"))
    at = at or timezone.now()
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        old = {"priority": incident.priority, "severity_id": incident.severity_id}
        incident.priority = priority
        if severity_id is not None:
            incident.severity_id = severity_id
        incident.save(update_fields=["priority", "severity_id", "updated_at"])
        for timer in _timers(incident):
            goal = (goals or {}).get(timer.metric)
            if goal:
                timer_change_goal(timer=timer, priority=priority, goal_seconds=goal, at=at, reason=reason, actor=actor)
        _event(
            incident,
            "priority",
            actor,
            at,
            text=reason.strip()[:2000],
            old=old,
            new={"priority": incident.priority, "severity_id": incident.severity_id},
        )
        customer_health_touch()  # the console's customer list (coalesced refresh)
        audit_record(
            actor=actor,
            action="incident.priority",
            target_type="incident",
            target_id=incident.pk,
            data={"old": old, "new": incident.priority, "reason": reason.strip()[:500]},
        )
    return incident


def incident_note(
    *, incident: Incident, text: str, actor: Actor, customer_visible: bool = False, at: datetime | None = None
) -> IncidentEvent:
    """An internal note, or (``customer_visible``) an update the customer sees in the portal, which meets the
    incident's update-cadence clock and starts the next cycle."""
    if not text.strip():
        raise IncidentError("text", _("a note needs text"))
    at = at or timezone.now()
    with transaction.atomic():
        if customer_visible:
            _update_cadence_met(incident, at, actor, restart=incident.state in OPEN_STATES)
        event = _event(
            incident,
            "update" if customer_visible else "note",
            actor,
            at,
            text=text.strip()[:10_000],
            visibility=Visibility.CUSTOMER if customer_visible else Visibility.INTERNAL,
        )
        audit_record(
            actor=actor,
            action="incident.note",
            target_type="incident",
            target_id=incident.pk,
            data={"customer_visible": customer_visible},
        )
    return event


def incident_merge(
    *, source: Incident, target: Incident, actor: Actor, reason: str, at: datetime | None = None
) -> Incident:
    """Move every alert of ``source`` into ``target`` and close ``source`` as merged."""
    if source.pk == target.pk:
        raise IncidentError("target", _("an incident cannot be merged into itself"))
    if not reason.strip():
        raise IncidentError("reason", _("a merge needs a reason"))
    at = at or timezone.now()
    with transaction.atomic():
        source = Incident.objects.select_for_update().get(pk=source.pk)
        target = Incident.objects.select_for_update().get(pk=target.pk)
        alerts = list(Alert.objects.filter(incident_id=source.pk))
        _detach(alerts, actor, at)
        if alerts:
            _attach(target, alerts, actor, at)
        source.refresh_from_db()
        source.state, source.closed_at, source.merged_into = IncidentState.CLOSED, at, target.pk
        source.correlation_rule = source.correlation_key = ""
        source.save(
            update_fields=["state", "closed_at", "merged_into", "correlation_rule", "correlation_key", "updated_at"]
        )
        _event(source, "merged", actor, at, text=reason.strip()[:2000], into=str(target.pk))
        _event(target, "merged_in", actor, at, text=reason.strip()[:2000], source=str(source.pk))
        customer_health_touch()  # the console's customer list (coalesced refresh)
        audit_record(
            actor=actor,
            action="incident.merge",
            target_type="incident",
            target_id=target.pk,
            data={"source": str(source.pk), "alerts": len(alerts)},
        )
    return target


def incident_split(*, incident: Incident, alerts: list[Alert], title: str, actor: Actor, reason: str) -> Incident:
    """Move some alerts of ``incident`` into a new incident."""
    if not reason.strip():
        raise IncidentError("reason", _("a split needs a reason"))
    if not alerts or any(a.incident_id != incident.pk for a in alerts):
        raise IncidentError("alerts", _("the alerts to split off must belong to this incident"))
    with transaction.atomic():
        new = incident_create(actor=actor, title=title, alerts=alerts)
        _event(
            incident,
            "split",
            actor,
            timezone.now(),
            text=reason.strip()[:2000],
            into=str(new.pk),
            alert_ids=[str(a.pk) for a in alerts],
        )
    return new


CUSTOMER_COMMENT_MAX = 5_000


def incident_customer_comment(
    *, incident: Incident, text: str, actor: Actor, at: datetime | None = None
) -> IncidentEvent:
    """A comment by a customer user on the portal: a customer-visible ``customer_comment`` event (the SOC sees it
    in the timeline). Unlike the SOC's customer-visible updates it does not meet the update-cadence clock."""
    text = (text or "").strip()
    if not text:
        raise IncidentError("text", _("a comment needs text"))
    if len(text) > CUSTOMER_COMMENT_MAX:
        raise IncidentError("text", _("at most %(limit)s characters") % {"limit": CUSTOMER_COMMENT_MAX})
    at = at or timezone.now()
    with transaction.atomic():
        event = _event(incident, "customer_comment", actor, at, text=text, visibility=Visibility.CUSTOMER)
        audit_record(actor=actor, action="incident.customer_comment", target_type="incident", target_id=incident.pk)
    return event


# ---- recommended actions ---------------------------------------------------------------------------------------

ACTION_NOTE_MAX = 2_000
ACTION_TEXT_MAX = 2_000


def _action_text(text: str) -> str:
    return " ".join(str(text).split())[:ACTION_TEXT_MAX]


def _action_digest(text: str) -> str:
    return hashlib.sha256(text.casefold().encode()).hexdigest()


def recommended_actions_sync(
    *, incident: Incident, texts: list[str], actor: Actor, escalation_id=None, at: datetime | None = None
) -> list[RecommendedAction]:
    """Keep a row per action the SOC recommended in an escalation brief (first report, follow-up or final). A text
    the incident already has (same words, whitespace and case aside) keeps its row and the customer's status; new
    texts are appended after the existing ones. Returns the rows created. Called inside the escalation's
    transaction; ``ignore_conflicts`` makes two concurrent follow-ups with the same text harmless."""
    at = at or timezone.now()
    wanted: dict[str, str] = {}
    for raw in texts or []:
        text = _action_text(raw)
        if text:
            wanted.setdefault(_action_digest(text), text)
    if not wanted:
        return []
    existing = set(
        RecommendedAction.objects.filter(incident=incident, text_sha256__in=list(wanted)).values_list(
            "text_sha256", flat=True
        )
    )
    last = (
        RecommendedAction.objects.filter(incident=incident).order_by("-position").values_list("position", flat=True)
    ).first()
    position = -1 if last is None else last
    rows = []
    for digest, text in wanted.items():
        if digest in existing:
            continue
        position += 1
        rows.append(
            RecommendedAction(
                incident=incident, text=text, text_sha256=digest, position=position, escalation_id=escalation_id
            )
        )
    if not rows:
        return []
    RecommendedAction.objects.bulk_create(rows, ignore_conflicts=True)  # ids are not returned: read them back
    rows = list(
        RecommendedAction.objects.filter(incident=incident, text_sha256__in=[r.text_sha256 for r in rows]).order_by(
            "position", "id"
        )
    )
    if rows:
        _event(
            incident,
            "actions_recommended",
            actor,
            at,
            visibility=Visibility.CUSTOMER,
            text="\n".join(f"- {row.text}" for row in rows)[:10_000],
            count=len(rows),
        )
    return rows


def recommended_action_set_status(
    *, actor: Actor, action: RecommendedAction, status: str, note: str = "", at: datetime | None = None
) -> RecommendedAction:
    """The customer says where an action stands: done, not applicable, need help (or open again), with an optional
    note. The change is a customer-visible event on the timeline and in the audit log; "need help" also puts the
    action in the public index of open customer requests, which the analyst queue and the incident workspace read
    (any other status takes it out). Who may call it is the caller's check (``incident.action_status``)."""
    if status not in ActionStatus.values:
        raise IncidentError("status", _("one of %(choices)s") % {"choices": ", ".join(ActionStatus.values)})
    note = (note or "").strip() if isinstance(note, str) else ""
    if len(note) > ACTION_NOTE_MAX:
        raise IncidentError("note", _("at most %(limit)s characters") % {"limit": ACTION_NOTE_MAX})
    at = at or timezone.now()
    with transaction.atomic():
        action = RecommendedAction.objects.select_for_update().select_related("incident").get(pk=action.pk)
        previous = action.status
        action.status, action.note = status, note
        action.status_by, action.status_at = actor.name[:200], at
        action.save(update_fields=["status", "note", "status_by", "status_at"])
        _event(
            action.incident,
            "action_status",
            actor,
            at,
            text=f"{action.text[:300]}: {status}" + (f"\n{note}" if note else ""),
            visibility=Visibility.CUSTOMER,
            action_id=action.pk,
            old=previous,
            new=status,
        )
        if status == ActionStatus.NEED_HELP:
            OpenRequestIndex.objects.update_or_create(
                schema_name=connection.schema_name,
                kind=OpenRequestKind.ACTION_HELP,
                ref=str(action.pk),
                defaults={"subject": str(action.incident_id), "created_at": at},
            )
        else:
            OpenRequestIndex.objects.filter(
                schema_name=connection.schema_name, kind=OpenRequestKind.ACTION_HELP, ref=str(action.pk)
            ).delete()
        audit_record(
            actor=actor,
            action="incident.action_status",
            target_type="recommended_action",
            target_id=action.pk,
            data={"incident": str(action.incident_id), "from": previous, "to": status, "note": bool(note)},
        )
    return action
