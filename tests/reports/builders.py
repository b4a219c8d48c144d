"""Realistic month data for report tests, written through the ORM in the current schema (wrap in
``schema_context``).

Low-level builders write one kind of row the way the services leave it, with its history:

- ``alert_build`` / ``alerts_create``: alerts (bulk, unique dedup keys, every NOT NULL column filled);
- ``incident_create``: an incident at a given ``created_at`` with its timeline ("created", one "state" event per
  transition, ``resolved_at`` / ``closed_at`` as ``incident_transition`` sets them);
- ``timers_create`` / ``timer_create``: SLA timers on a 24x7 calendar with their events (started, paused /
  resumed, breached, met / cancelled) and ``SlaBreach`` rows; the deadline and breach instant are computed from the
  goal and the pauses, as the SLA engine would;
- ``escalation_create``: an escalation of an incident with its deliveries;
- ``version_in_past``: a published contract version with a validity in the past (the services only publish from
  today), optionally with entitlements and an end.

``month_data`` combines them into a varied, deterministic month (alerts of every scope status, severity and
classification, incidents with timelines, acknowledge/notify timers some breached and paused, escalations with
deliveries) and returns every row it wrote, so a test can compute the expected figures itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mdr.alerts.models import Alert
from mdr.audit.services import Actor
from mdr.escalations.models import Contact, Delivery, Escalation, EscalationMatrix
from mdr.incidents.models import Incident, IncidentEvent
from mdr.scope import services as scope_services
from mdr.scope.models import ContractVersion
from mdr.scope.selectors import contract_current
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import SlaBreach, SlaPolicy, SlaTimer, SlaTimerEvent

ACTOR = Actor.system("tests")
TOKYO = ZoneInfo("Asia/Tokyo")


def month_start(month: date, tz: str = "Asia/Tokyo") -> datetime:
    """Local midnight of the 1st of ``month``."""
    return datetime(month.year, month.month, 1, tzinfo=ZoneInfo(tz))


# ---- contract ----------------------------------------------------------------------------------------------


def version_in_past(
    *,
    valid_from: datetime,
    valid_to: datetime | None = None,
    terms: dict | None = None,
    entitlements: list[dict] | None = None,
) -> ContractVersion:
    """A version in force over [valid_from, valid_to) in the past (the services never publish into the past, so
    the publication fields are set on a draft, as ``tests/scope/helpers.backdated_version`` does; ``valid_to`` is
    the one change the database accepts on a published version)."""
    draft = scope_services.version_draft_create(actor=ACTOR, contract=contract_current(), terms=terms or {})
    if entitlements is not None:
        scope_services.entitlements_set(actor=ACTOR, version=draft, entitlements=entitlements)
    ContractVersion.objects.filter(pk=draft.pk).update(
        status="published", valid_from=valid_from, published_by="tests", published_at=valid_from
    )
    if valid_to is not None:
        ContractVersion.objects.filter(pk=draft.pk).update(valid_to=valid_to)
    draft.refresh_from_db()
    return draft


# ---- alerts ------------------------------------------------------------------------------------------------


def alert_build(
    *,
    received_at: datetime,
    severity_id: int = 3,
    priority: str = "P3",
    scope_status: str = "in_scope",
    category: str = "malware",
    source_format: str = "ocsf",
    source_product: str = "Wazuh",
    rule_id: str = "r-100",
    rule_name: str = "Suspicious process",
    tactics: Iterable[str] = (),
    techniques: Iterable[str] = (),
    hosts: Iterable[str] = (),
    users: Iterable[str] = (),
    occurrence_count: int = 1,
    acknowledged_at: datetime | None = None,
    classification: str = "",
    incident_id: uuid.UUID | None = None,
    **extra: Any,
) -> Alert:
    """An unsaved alert received at ``received_at`` (observed, first and last seen then too)."""
    return Alert(
        dedup_key=uuid.uuid4().hex,
        source_format=source_format,
        source_product=source_product,
        title=extra.pop("title", f"{rule_name} on {next(iter(hosts), 'unknown')}"),
        severity_id=severity_id,
        priority=priority,
        scope_status=scope_status,
        category=category,
        rule_id=rule_id,
        rule_name=rule_name,
        tactics=list(tactics),
        techniques=list(techniques),
        hosts=list(hosts),
        users=list(users),
        observed_at=received_at,
        received_at=received_at,
        first_seen_at=received_at,
        last_seen_at=received_at,
        raw={},
        occurrence_count=occurrence_count,
        acknowledged_at=acknowledged_at,
        classification=classification,
        incident_id=incident_id,
        **extra,
    )


def alerts_create(alerts: Iterable[Alert]) -> list[Alert]:
    return Alert.objects.bulk_create(list(alerts), batch_size=2000)


# ---- incidents ---------------------------------------------------------------------------------------------


def incident_create(
    *,
    created_at: datetime,
    priority: str = "P2",
    severity_id: int = 4,
    title: str = "Suspicious activity",
    transitions: Iterable[tuple[str, datetime]] = (),
    alert_count: int = 0,
    notified_at: datetime | None = None,
    customer_acknowledged_at: datetime | None = None,
    customer_unreachable_at: datetime | None = None,
) -> Incident:
    """An incident created at ``created_at`` that went through ``transitions`` ((state, at), in order), with the
    timeline events ``incident_transition`` writes."""
    incident = Incident.objects.create(
        title=title, severity_id=severity_id, priority=priority, alert_count=alert_count, state="new"
    )
    events = [IncidentEvent(incident=incident, kind="created", at=created_at, actor="system:correlation")]
    state, resolved_at, closed_at = "new", None, None
    for new, at in transitions:
        events.append(
            IncidentEvent(
                incident=incident,
                kind="state",
                at=at,
                actor="analyst#1",
                visibility="customer",
                data={"old": state, "new": new},
            )
        )
        if new == "resolved":
            resolved_at = at
        elif new == "closed":
            closed_at = at
        elif new == "investigating" and state in ("resolved", "closed"):
            resolved_at = closed_at = None
        state = new
    IncidentEvent.objects.bulk_create(events)
    # created_at is auto_now_add: set it (and the milestones) afterwards, as history.
    Incident.objects.filter(pk=incident.pk).update(
        created_at=created_at,
        state=state,
        resolved_at=resolved_at,
        closed_at=closed_at,
        notified_at=notified_at,
        customer_acknowledged_at=customer_acknowledged_at,
        customer_unreachable_at=customer_unreachable_at,
        first_alert_at=created_at,
        last_alert_at=created_at,
    )
    incident.refresh_from_db()
    return incident


# ---- SLA timers --------------------------------------------------------------------------------------------


@dataclass
class TimerSpec:
    """One timer to write. ``pauses``: (reason, start, end or None while still paused), in order. A timer stops
    at ``met_at`` or ``cancelled_at`` (at most one); an open timer is breached if its deadline is before
    ``swept_at`` (the last sweep)."""

    subject_type: str
    subject_id: str
    metric: str
    priority: str
    goal_seconds: int
    started_at: datetime
    policy: SlaPolicy | None = None
    met_at: datetime | None = None
    cancelled_at: datetime | None = None
    pauses: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)
    swept_at: datetime | None = None
    breach_reason: str | None = None  # an explicit "reason" in the breach evidence


def deadline_of(spec: TimerSpec) -> datetime | None:
    """When the goal runs out on a 24x7 calendar given the pauses (None if paused for good before)."""
    cursor, remaining = spec.started_at, float(spec.goal_seconds)
    for _, paused_at, resumed_at in spec.pauses:
        run = (paused_at - cursor).total_seconds()
        if run >= remaining:
            return cursor + timedelta(seconds=remaining)
        remaining -= run
        if resumed_at is None:
            return None
        cursor = resumed_at
    return cursor + timedelta(seconds=remaining)


def paused_seconds(spec: TimerSpec, until: datetime) -> float:
    """Wall seconds spent paused between the start and ``until`` (an open pause counts until ``until``)."""
    total = 0.0
    for _, paused_at, resumed_at in spec.pauses:
        if paused_at >= until:
            break
        total += (min(resumed_at or until, until) - paused_at).total_seconds()
    return total


def timers_create(specs: Iterable[TimerSpec]) -> list[SlaTimer]:
    """Write the timers, their events and breaches in a few bulk statements."""
    specs = list(specs)
    calendar = BusinessCalendar.always(timezone="Asia/Tokyo").to_dict()
    timers = []
    for s in specs:
        stop = s.met_at or s.cancelled_at
        deadline = deadline_of(s)
        horizon = stop or s.swept_at
        breached_at = deadline if deadline is not None and horizon is not None and deadline <= horizon else None
        open_pause = s.pauses and s.pauses[-1][2] is None and stop is None
        if stop is not None:
            elapsed = (stop - s.started_at).total_seconds() - paused_seconds(s, stop)
            state = "met" if s.met_at else "cancelled"
        else:  # banked up to the last resume, or up to the pause while paused
            last = s.pauses[-1][1] if open_pause else (s.pauses[-1][2] if s.pauses else s.started_at)
            elapsed = (last - s.started_at).total_seconds() - paused_seconds(s, last)
            state = "paused" if open_pause else "running"
        timers.append(
            SlaTimer(
                subject_type=s.subject_type,
                subject_id=s.subject_id,
                metric=s.metric,
                priority=s.priority,
                policy=s.policy,
                goal_seconds=s.goal_seconds,
                calendar_spec=calendar,
                warning_thresholds=[50, 75, 90],
                state=state,
                started_at=s.started_at,
                elapsed_business_seconds=elapsed,
                resumed_at=None if stop or open_pause else (s.pauses[-1][2] if s.pauses else s.started_at),
                paused_since=s.pauses[-1][1] if open_pause else None,
                deadline=deadline if state == "running" else None,
                breached_at=breached_at,
                stopped_at=stop,
                elapsed_wall_seconds=(stop - s.started_at).total_seconds() if s.met_at else None,
            )
        )
    SlaTimer.objects.bulk_create(timers)
    events, breaches = [], []
    for s, t in zip(specs, timers, strict=True):
        events.append(SlaTimerEvent(timer=t, kind="started", at=s.started_at, data={"goal_seconds": s.goal_seconds}))
        for reason, paused_at, resumed_at in s.pauses:
            events.append(SlaTimerEvent(timer=t, kind="paused", at=paused_at, data={"reason": reason}, actor="a#1"))
            if resumed_at is not None:
                events.append(SlaTimerEvent(timer=t, kind="resumed", at=resumed_at, actor="a#1"))
        if t.breached_at is not None:
            events.append(SlaTimerEvent(timer=t, kind="breached", at=t.breached_at))
            evidence = {
                "metric": t.metric,
                "priority": t.priority,
                "goal_seconds": t.goal_seconds,
                "started_at": t.started_at.isoformat(),
                "deadline": t.breached_at.isoformat(),
                "pauses": [{"reason": r, "at": p.isoformat()} for r, p, _ in s.pauses],
            }
            if s.breach_reason:
                evidence["reason"] = s.breach_reason
            breaches.append(SlaBreach(timer=t, breached_at=t.breached_at, deadline=t.breached_at, evidence=evidence))
        if t.stopped_at is not None:
            events.append(
                SlaTimerEvent(
                    timer=t,
                    kind=t.state,
                    at=t.stopped_at,
                    data={"elapsed_business_seconds": t.elapsed_business_seconds},
                )
            )
    SlaTimerEvent.objects.bulk_create(events)
    SlaBreach.objects.bulk_create(breaches)
    return timers


def timer_create(**kwargs: Any) -> SlaTimer:
    return timers_create([TimerSpec(**kwargs)])[0]


# ---- escalations -------------------------------------------------------------------------------------------


def _matrix_and_contact() -> tuple[EscalationMatrix, Contact]:
    contact = Contact.objects.filter(name="CSIRT duty").first() or Contact.objects.create(
        name="CSIRT duty", email="duty@acme.example"
    )
    matrix = EscalationMatrix.objects.order_by("-version").first()
    if matrix is None:
        matrix = EscalationMatrix.objects.create(
            version=1,
            rules=[
                {
                    "min_priority": "P4",
                    "repeat": 1,
                    "levels": [
                        {"contacts": [contact.pk], "channels": ["email"], "wait_minutes": 15},
                        {"contacts": [contact.pk], "channels": ["email", "webhook"], "wait_minutes": 15},
                    ],
                }
            ],
            created_by="tests",
        )
    return matrix, contact


def escalation_create(
    *,
    incident: Incident,
    started_at: datetime,
    state: str = "running",
    acknowledged_at: datetime | None = None,
    acknowledged_by: str = "",
    deliveries: Iterable[dict] = (),
) -> Escalation:
    """An escalation of ``incident`` with ``deliveries`` (dicts: level (0-based), state, channel, delivered_at,
    notice_kind; created at the escalation's start unless ``created_at`` is given)."""
    matrix, contact = _matrix_and_contact()
    escalation = Escalation.objects.create(
        incident_id=incident.pk,
        matrix=matrix,
        rule_index=0,
        level=max((d.get("level", 0) for d in deliveries), default=0),
        state=state,
        started_at=started_at,
        acknowledged_at=acknowledged_at,
        acknowledged_by=acknowledged_by,
    )
    Delivery.objects.bulk_create(
        Delivery(
            escalation=escalation,
            level=d.get("level", 0),
            cycle=0,
            notice_kind=d.get("notice_kind", "first"),
            contact=contact,
            channel=d.get("channel", "email"),
            target=contact.email,
            created_at=d.get("created_at", started_at),
            state=d.get("state", "sent"),
            attempts=1 if d.get("state", "sent") in ("sent", "failed") else 0,
            delivered_at=d.get("delivered_at"),
        )
        for d in deliveries
    )
    return escalation


# ---- a whole month -----------------------------------------------------------------------------------------

SOURCES = ("Wazuh", "Suricata", "Microsoft Defender", "")  # "" = no product: the source is the format
CATEGORIES = ("malware", "phishing", "recon", "")
TACTICS = ("TA0001", "TA0002", "TA0003", "TA0004", "TA0005", "TA0006", "TA0007", "TA0008", "TA0009", "TA0010", "TA0011")
TECHNIQUES = tuple(f"T{1000 + i}" for i in range(13))
SCOPES = ("in_scope", "in_scope", "in_scope", "unknown_asset", "out_of_scope", "excluded", "unsupported_source")
CLASSES = ("", "true_positive", "false_positive", "", "benign_true_positive", "duplicate", "false_positive")


@dataclass
class MonthData:
    month: date
    start: datetime
    end: datetime
    alerts: list[Alert]
    incidents: list[Incident]
    timers: list[SlaTimer]
    specs: list[TimerSpec]
    escalations: list[Escalation]


def month_data(
    *, month: date, alerts: int = 60, incidents: int = 4, tz: str = "Asia/Tokyo", policy: SlaPolicy | None = None
) -> MonthData:
    """A deterministic, varied month. Alert ``i`` arrives ``i`` x (month length / n) into the month; its attributes
    rotate through the tuples above (so each figure has several distinct values); worked alerts get an acknowledge
    timer (goal 15 min, every 4th met late: breached; every 7th paused an hour waiting for the customer; every
    9th still open). Incident ``k`` is P1..P4 in turn, acknowledged after 10 min, contained (odd k), resolved
    (k % 3 == 0); it has a notify timer (goal 30 min) and an escalation acknowledged, unanswered or unreachable
    in turn, with a first notice at level 0 and, for unanswered or unreachable ones, at level 1. Every 10th alert
    is attached to an incident."""
    start = month_start(month, tz)
    end = month_start(date(month.year + (month.month == 12), month.month % 12 + 1, 1), tz)
    step = (end - start) / max(alerts, 1)
    rows = []
    for i in range(alerts):
        at = start + step * i + timedelta(seconds=7)
        scope = SCOPES[i % len(SCOPES)]
        rows.append(
            alert_build(
                received_at=at,
                severity_id=i % 7,
                priority=("P1", "P2", "P3", "P4", "P3")[i % 5],
                scope_status=scope,
                category=CATEGORIES[i % len(CATEGORIES)],
                source_format=("ocsf", "ecs")[i % 2],
                source_product=SOURCES[i % len(SOURCES)],
                rule_id=f"r-{i % 13}",
                rule_name=f"Rule {i % 13}",
                tactics=[TACTICS[i % 11], TACTICS[(i * 3) % 11]] if i % 3 else [],
                techniques=[TECHNIQUES[i % 13]] if i % 4 else [],
                hosts=[f"ws-{i % 17:02d}"] + ([f"srv-{i % 3}"] if i % 2 else []),
                users=[f"user{i % 12}"] if i % 3 != 1 else [],
                occurrence_count=1 + i % 4,
                acknowledged_at=at + timedelta(minutes=5) if i % 3 == 0 else None,
                classification=CLASSES[i % len(CLASSES)],
            )
        )
    created = alerts_create(rows)
    specs = []
    for i, alert in enumerate(created):
        if alert.scope_status not in ("in_scope", "unknown_asset"):
            continue
        t0 = alert.received_at
        spec = TimerSpec(
            subject_type="alert",
            subject_id=str(alert.pk),
            metric="acknowledge",
            priority=alert.priority,
            goal_seconds=900,
            started_at=t0,
            policy=policy,
            met_at=t0 + timedelta(seconds=1200 if i % 4 == 0 else 60 + 7 * (i % 50)),
        )
        if i % 7 == 0:
            spec.pauses = [
                ("awaiting customer: confirm the host owner", t0 + timedelta(seconds=30), t0 + timedelta(hours=1))
            ]
            spec.met_at = t0 + timedelta(hours=1, seconds=300 if i % 4 else 1500)
        if i % 9 == 4:
            spec.met_at = None
        specs.append(spec)
    incident_rows = []
    escalations = []
    for k in range(incidents):
        at = start + (end - start) * (k + 1) / (incidents + 2)
        transitions = [("investigating", at + timedelta(minutes=10))]
        if k % 2:
            transitions.append(("contained", at + timedelta(hours=2)))
        if k % 3 == 0:
            transitions.append(("resolved", at + timedelta(hours=5)))
        incident = incident_create(
            created_at=at,
            priority=("P1", "P2", "P3", "P4")[k % 4],
            severity_id=(5, 4, 3, 2)[k % 4],
            title=f"Incident {k}",
            transitions=transitions,
            alert_count=1 + k,
            notified_at=at + timedelta(minutes=20),
            customer_acknowledged_at=at + timedelta(minutes=35) if k % 3 == 0 else None,
        )
        incident_rows.append(incident)
        specs.append(
            TimerSpec(
                subject_type="incident",
                subject_id=str(incident.pk),
                metric="notify",
                priority=incident.priority,
                goal_seconds=1800,
                started_at=at,
                policy=policy,
                met_at=at + timedelta(minutes=20),
            )
        )
        state = ("acknowledged", "running", "unreachable")[k % 3]
        deliveries = [{"level": 0, "state": "sent", "channel": "email", "delivered_at": at + timedelta(minutes=20)}]
        if state != "acknowledged":
            deliveries += [
                {"level": 1, "state": "sent", "channel": "webhook", "delivered_at": at + timedelta(minutes=40)},
                {"level": 1, "state": "failed", "channel": "email"},
            ]
        else:
            deliveries.append({"level": 1, "state": "cancelled", "channel": "email"})
        escalations.append(
            escalation_create(
                incident=incident,
                started_at=at + timedelta(minutes=15),
                state=state,
                acknowledged_at=at + timedelta(minutes=35) if state == "acknowledged" else None,
                acknowledged_by="CSIRT duty" if state == "acknowledged" else "",
                deliveries=deliveries,
            )
        )
    if incident_rows:  # every 10th alert belongs to an incident
        for i, alert in enumerate(created):
            if i % 10 == 0:
                alert.incident_id = incident_rows[(i // 10) % len(incident_rows)].pk
        Alert.objects.bulk_update([a for a in created if a.incident_id], ["incident_id"], batch_size=2000)
    timers = timers_create(specs)
    return MonthData(
        month=month,
        start=start,
        end=end,
        alerts=created,
        incidents=incident_rows,
        timers=timers,
        specs=specs,
        escalations=escalations,
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
