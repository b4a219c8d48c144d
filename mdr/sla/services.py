"""The SLA engine: timers started, paused, resumed, re-goaled, warned, breached and stopped, with history.

Semantics (docs/sla.md has the full text):
- A timer runs on its calendar: only working time counts, so a timer started outside coverage hours effectively
  starts at the next window. Business and wall-clock elapsed are both kept.
- Pause needs a reason; while paused nothing counts and nothing is due.
- A goal change (priority up or down) keeps the start and the elapsed time and swaps the goal; if the elapsed
  time is already past the new goal the timer breaches at once, and a timer breaches only once.
- The breach instant is the deadline itself (exactly when the goal ran out), even if the sweep notices later.
- Warnings fire once per threshold (default 50/75/90 % of the goal), in order.
- The next instant something is due (a warning or the breach) is kept in the public due-work index; the
  scheduler's sweep hands it to ``sla_timer_due``, which is idempotent (a redelivered or doubled message finds
  nothing left to do).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mdr.audit.services import Actor, audit_record
from mdr.jobs.models import TimerIndex
from mdr.jobs.services import due_work_cancel, due_work_schedule
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import (
    OPEN_STATES,
    EventKind,
    SlaBreach,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    SlaTimerEvent,
    StoredCalendar,
    TimerState,
)

log = logging.getLogger(__name__)

DUE_ACTOR = "sla_timer_due"
DEFAULT_WARNINGS = [50, 75, 90]


class SlaError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _cal(timer: SlaTimer) -> BusinessCalendar:
    return BusinessCalendar.from_dict(timer.calendar_spec)


def _event(timer: SlaTimer, kind: str, at: datetime, actor: Actor | None = None, **data) -> None:
    SlaTimerEvent.objects.create(timer=timer, kind=kind, at=at, data=data, actor=actor.name if actor else "")


def _elapsed_until(timer: SlaTimer, at: datetime, cal: BusinessCalendar | None = None) -> float:
    """Business seconds counted up to ``at``."""
    if timer.state != TimerState.RUNNING or timer.resumed_at is None:
        return timer.elapsed_business_seconds
    cal = cal or _cal(timer)
    return timer.elapsed_business_seconds + cal.elapsed(timer.resumed_at, at).total_seconds()


def _deadline(timer: SlaTimer, cal: BusinessCalendar) -> datetime | None:
    if timer.state != TimerState.RUNNING:
        return None
    remaining = timer.goal_seconds - timer.elapsed_business_seconds
    if remaining <= 0:
        return timer.resumed_at
    return cal.add(timer.resumed_at, timedelta(seconds=remaining))


def _warning_instants(timer: SlaTimer, cal: BusinessCalendar) -> list[tuple[int, datetime]]:
    if timer.state != TimerState.RUNNING or timer.breached_at is not None:
        return []
    out = []
    for pct in sorted(timer.warning_thresholds):
        if pct <= timer.warned_pct or pct >= 100:
            continue
        at_seconds = timer.goal_seconds * pct / 100 - timer.elapsed_business_seconds
        out.append((pct, cal.add(timer.resumed_at, timedelta(seconds=max(0.0, at_seconds)))))
    return out


def _reschedule(timer: SlaTimer, cal: BusinessCalendar) -> None:
    """Keep the due-work index and the analyst-queue index in step with the timer row."""
    schema = connection.schema_name
    if timer.state not in OPEN_STATES:
        due_work_cancel(kind=DUE_ACTOR, ref=str(timer.pk))
        TimerIndex.objects.filter(schema_name=schema, timer_id=timer.pk).delete()
        return
    candidates = [at for _, at in _warning_instants(timer, cal)]
    if timer.breached_at is None and timer.deadline is not None:
        candidates.append(timer.deadline)
    if candidates:
        due_work_schedule(kind=DUE_ACTOR, ref=str(timer.pk), due_at=min(candidates))
    else:
        due_work_cancel(kind=DUE_ACTOR, ref=str(timer.pk))
    TimerIndex.objects.update_or_create(
        schema_name=schema,
        timer_id=timer.pk,
        defaults={
            "subject_type": timer.subject_type,
            "subject_id": timer.subject_id,
            "metric": timer.metric,
            "priority": timer.priority,
            "deadline": timer.deadline,
            "breached": timer.breached_at is not None,
        },
    )


def _save(timer: SlaTimer, cal: BusinessCalendar, fields: list[str]) -> None:
    timer.deadline = _deadline(timer, cal)
    timer.save(update_fields=[*fields, "deadline"])
    _reschedule(timer, cal)


# ---- policies and calendars --------------------------------------------------------------------------------


def calendar_store(*, actor: Actor, name: str, spec: dict) -> StoredCalendar:
    """Store ``spec`` as the next version of calendar ``name`` (validated by BusinessCalendar)."""
    try:
        BusinessCalendar.from_dict(spec)
    except (ValueError, TypeError, KeyError) as exc:
        raise SlaError("spec", str(exc)) from None
    with transaction.atomic():
        latest = StoredCalendar.objects.filter(name=name).order_by("-version").first()
        stored = StoredCalendar.objects.create(
            name=name, version=(latest.version + 1 if latest else 1), spec=spec, created_by=actor.name
        )
        audit_record(
            actor=actor,
            action="sla.calendar.store",
            target_type="calendar",
            target_id=stored.pk,
            data={"name": name, "version": stored.version},
        )
    return stored


def policy_create(
    *, actor: Actor, name: str, targets: list[dict], warning_thresholds: list[int] | None = None
) -> SlaPolicy:
    """A new policy (a new version when ``name`` exists). targets: {priority, metric, goal_minutes,
    calendar: "24x7" | "coverage" | <stored calendar id>}."""
    thresholds = DEFAULT_WARNINGS if warning_thresholds is None else warning_thresholds
    if any(not 0 < t < 100 for t in thresholds):
        raise SlaError("warning_thresholds", _("each threshold is a percentage between 1 and 99"))
    built = []
    seen = set()
    for i, target in enumerate(targets):
        key = (target.get("priority"), target.get("metric"))
        if key[0] not in ("P1", "P2", "P3", "P4"):
            raise SlaError(f"targets[{i}].priority", _("P1-P4"))
        if key[1] not in ("acknowledge", "notify", "update", "resolve"):
            raise SlaError(f"targets[{i}].metric", _("acknowledge, notify, update or resolve"))
        if key in seen:
            raise SlaError(f"targets[{i}]", _("%(key)s %(key2)s given twice") % {"key": key[0], "key2": key[1]})
        seen.add(key)
        try:
            goal = round(float(target.get("goal_minutes")) * 60)
        except (TypeError, ValueError):
            raise SlaError(f"targets[{i}].goal_minutes", _("a number of minutes")) from None
        if goal <= 0:
            raise SlaError(f"targets[{i}].goal_minutes", _("must be positive"))
        calendar = target.get("calendar", "24x7")
        stored = None
        if calendar not in ("24x7", "coverage"):
            stored = StoredCalendar.objects.filter(pk=calendar).first() if str(calendar).isdigit() else None
            if stored is None:
                raise SlaError(f"targets[{i}].calendar", _("24x7, coverage, or the id of a stored calendar"))
        built.append((key, goal, "custom" if stored else calendar, stored))
    with transaction.atomic():
        latest = SlaPolicy.objects.filter(name=name).order_by("-version").first()
        policy = SlaPolicy.objects.create(
            name=name,
            version=latest.version + 1 if latest else 1,
            warning_thresholds=sorted(set(thresholds)),
            created_by=actor.name,
        )
        SlaTarget.objects.bulk_create(
            SlaTarget(policy=policy, priority=p, metric=m, goal_seconds=goal, calendar_kind=kind, calendar=stored)
            for (p, m), goal, kind, stored in built
        )
        audit_record(
            actor=actor,
            action="sla.policy.create",
            target_type="sla_policy",
            target_id=policy.pk,
            data={"name": name, "version": policy.version, "targets": len(built)},
        )
    return policy


def policy_revise(
    *,
    actor: Actor,
    name: str,
    targets: list[dict],
    warning_thresholds: list[int] | None = None,
    retarget_timers: bool = False,
    contract_draft: bool = True,
) -> tuple[SlaPolicy, int, object | None]:
    """A new policy version as the console makes it, all or nothing: the policy; if asked, the open timers moved to
    its goals (``timers_retarget``); and, if asked and the customer has a contract, the contract draft (copied from
    the version in force) that names it, since a policy takes effect only through a contract version. Returns
    (policy, timers moved, draft or None)."""
    from mdr.scope.selectors import contract_current, version_in_force
    from mdr.scope.services import version_draft_create

    with transaction.atomic():
        policy = policy_create(actor=actor, name=name, targets=targets, warning_thresholds=warning_thresholds)
        moved = timers_retarget(actor=actor, policy=policy) if retarget_timers else 0
        draft = None
        contract = contract_current()
        if contract_draft and contract is not None:
            draft = version_draft_create(
                actor=actor,
                contract=contract,
                copy_from=version_in_force(at=timezone.now()),
                terms={"sla_policy_id": policy.pk, "change_note": f"SLA policy {policy.name} v{policy.version}"},
            )
    return policy, moved, draft


def target_calendar(target: SlaTarget, *, coverage: BusinessCalendar, timezone_name: str) -> BusinessCalendar:
    if target.calendar_kind == "coverage":
        return coverage
    if target.calendar_kind == "custom" and target.calendar is not None:
        return BusinessCalendar.from_dict(target.calendar.spec)
    return BusinessCalendar.always(timezone=timezone_name)


# ---- timers ------------------------------------------------------------------------------------------------


def timer_start(
    *,
    subject_type: str,
    subject_id: str,
    metric: str,
    priority: str,
    goal_seconds: int,
    calendar: BusinessCalendar,
    at: datetime,
    policy: SlaPolicy | None = None,
    warning_thresholds: list[int] | None = None,
    actor: Actor | None = None,
) -> SlaTimer:
    """Start (idempotently: an open timer of the same subject and metric is returned as is)."""
    with transaction.atomic():
        existing = SlaTimer.objects.filter(
            subject_type=subject_type, subject_id=str(subject_id), metric=metric, state__in=OPEN_STATES
        ).first()
        if existing:
            return existing
        timer = SlaTimer.objects.create(
            subject_type=subject_type,
            subject_id=str(subject_id),
            metric=metric,
            priority=priority,
            policy=policy,
            goal_seconds=goal_seconds,
            calendar_spec=calendar.to_dict(),
            warning_thresholds=DEFAULT_WARNINGS if warning_thresholds is None else warning_thresholds,
            state=TimerState.RUNNING,
            started_at=at,
            resumed_at=at,
        )
        _event(
            timer,
            EventKind.STARTED,
            at,
            actor,
            goal_seconds=goal_seconds,
            priority=priority,
            calendar=timer.calendar_spec,
        )
        _save(timer, calendar, [])
    return timer


def _locked(timer: SlaTimer) -> SlaTimer:
    return SlaTimer.objects.select_for_update().get(pk=timer.pk)


def timer_pause(*, timer: SlaTimer, at: datetime, reason: str, actor: Actor) -> SlaTimer:
    if not (reason or "").strip():
        raise SlaError("reason", _("a pause needs a reason"))
    with transaction.atomic():
        timer = _locked(timer)
        if timer.state != TimerState.RUNNING:
            raise SlaError("state", _("timer is %(state)s, not running") % {"state": timer.state})
        cal = _cal(timer)
        timer.elapsed_business_seconds = _elapsed_until(timer, at, cal)
        timer.state = TimerState.PAUSED
        timer.paused_since = at
        timer.resumed_at = None
        _event(timer, EventKind.PAUSED, at, actor, reason=reason.strip()[:500])
        _save(timer, cal, ["elapsed_business_seconds", "state", "paused_since", "resumed_at"])
    return timer


def timer_resume(*, timer: SlaTimer, at: datetime, actor: Actor) -> SlaTimer:
    with transaction.atomic():
        timer = _locked(timer)
        if timer.state != TimerState.PAUSED:
            raise SlaError("state", _("timer is %(state)s, not paused") % {"state": timer.state})
        cal = _cal(timer)
        timer.state = TimerState.RUNNING
        timer.resumed_at = at
        timer.paused_since = None
        _event(timer, EventKind.RESUMED, at, actor)
        _save(timer, cal, ["state", "resumed_at", "paused_since"])
        _breach_if_due(timer, at, cal)
    return timer


def timer_change_goal(
    *, timer: SlaTimer, priority: str, goal_seconds: int, at: datetime, reason: str, actor: Actor
) -> SlaTimer:
    """Priority changed: keep start and elapsed, swap the goal; breach at once (once) if already past it."""
    if not (reason or "").strip():
        raise SlaError("reason", _("a priority change needs a reason"))
    with transaction.atomic():
        timer = _locked(timer)
        if timer.state not in OPEN_STATES:
            raise SlaError("state", _("timer is %(state)s") % {"state": timer.state})
        cal = _cal(timer)
        if timer.state == TimerState.RUNNING:
            # Re-base: bank the elapsed time up to now, so the new deadline counts from here.
            timer.elapsed_business_seconds = _elapsed_until(timer, at, cal)
            timer.resumed_at = at
        old = (timer.priority, timer.goal_seconds)
        timer.priority, timer.goal_seconds = priority, goal_seconds
        _event(
            timer,
            EventKind.GOAL_CHANGED,
            at,
            actor,
            old_priority=old[0],
            old_goal_seconds=old[1],
            priority=priority,
            goal_seconds=goal_seconds,
            reason=reason.strip()[:500],
            elapsed_business_seconds=timer.elapsed_business_seconds,
        )
        _save(timer, cal, ["priority", "goal_seconds", "elapsed_business_seconds", "resumed_at"])
        _breach_if_due(timer, at, cal)
    return timer


def timer_stop(*, timer: SlaTimer, at: datetime, actor: Actor | None = None) -> SlaTimer:
    """The metric's event happened (acknowledged, notified, resolved): the timer is met (or met late)."""
    with transaction.atomic():
        timer = _locked(timer)
        if timer.state not in OPEN_STATES:
            return timer
        cal = _cal(timer)
        _breach_if_due(timer, at, cal)  # a stop after the deadline the sweep had not reached yet
        timer.elapsed_business_seconds = _elapsed_until(timer, at, cal)
        timer.state = TimerState.MET
        timer.stopped_at = at
        timer.resumed_at = None
        timer.elapsed_wall_seconds = (at - timer.started_at).total_seconds()
        _event(
            timer,
            EventKind.MET,
            at,
            actor,
            elapsed_business_seconds=timer.elapsed_business_seconds,
            breached=timer.breached_at is not None,
        )
        _save(timer, cal, ["elapsed_business_seconds", "state", "stopped_at", "resumed_at", "elapsed_wall_seconds"])
    return timer


def timer_cancel(*, timer: SlaTimer, at: datetime, reason: str, actor: Actor) -> SlaTimer:
    with transaction.atomic():
        timer = _locked(timer)
        if timer.state not in OPEN_STATES:
            return timer
        cal = _cal(timer)
        timer.elapsed_business_seconds = _elapsed_until(timer, at, cal)
        timer.state = TimerState.CANCELLED
        timer.stopped_at = at
        timer.resumed_at = None
        _event(timer, EventKind.CANCELLED, at, actor, reason=reason[:500])
        _save(timer, cal, ["elapsed_business_seconds", "state", "stopped_at", "resumed_at"])
    return timer


def _breach_if_due(timer: SlaTimer, now: datetime, cal: BusinessCalendar) -> bool:
    """Record the breach once, at the deadline instant (or at ``now`` for a goal that ran out by re-goaling)."""
    if timer.breached_at is not None or timer.state != TimerState.RUNNING or timer.deadline is None:
        return False
    if now < timer.deadline:
        return False
    breached_at = timer.deadline
    timer.breached_at = breached_at
    timer.save(update_fields=["breached_at"])
    pauses = list(timer.events.filter(kind__in=[EventKind.PAUSED, EventKind.RESUMED]).values("kind", "at", "data"))
    evidence = {
        "metric": timer.metric,
        "priority": timer.priority,
        "goal_seconds": timer.goal_seconds,
        "calendar": timer.calendar_spec,
        "started_at": timer.started_at.isoformat(),
        "deadline": breached_at.isoformat(),
        "elapsed_business_seconds_at_breach": timer.goal_seconds,
        "wall_seconds_at_breach": (breached_at - timer.started_at).total_seconds(),
        "pauses": [{"kind": p["kind"], "at": p["at"].isoformat(), **p["data"]} for p in pauses],
        "noticed_at": now.isoformat(),
    }
    SlaBreach.objects.create(timer=timer, breached_at=breached_at, deadline=breached_at, evidence=evidence)
    _event(timer, EventKind.BREACHED, breached_at, None, noticed_at=now.isoformat())
    _reschedule(timer, cal)
    log.info("sla.timer.breached", extra={"schema": connection.schema_name, "timer": timer.pk})
    return True


@dataclass(frozen=True)
class TickResult:
    warned: tuple[int, ...]
    breached: bool


def timer_due(*, timer_id: int, now: datetime | None = None) -> TickResult | None:
    """What the sweep triggers: fire passed warnings (each once, in order) and the breach; reschedule."""
    now = now or timezone.now()
    with transaction.atomic():
        timer = SlaTimer.objects.select_for_update().filter(pk=timer_id).first()
        if timer is None or timer.state != TimerState.RUNNING:
            return None
        cal = _cal(timer)
        warned = []
        for pct, at in _warning_instants(timer, cal):
            if at <= now:
                timer.warned_pct = pct
                warned.append(pct)
                _event(timer, EventKind.WARNED, at, None, pct=pct)
        if warned:
            timer.save(update_fields=["warned_pct"])
        breached = _breach_if_due(timer, now, cal)
        _reschedule(timer, cal)
    return TickResult(warned=tuple(warned), breached=breached)


def timers_retarget(*, actor: Actor, policy: SlaPolicy, at: datetime | None = None) -> int:
    """The audited exception to "a policy edit never changes running timers": move the open timers of older
    versions of ``policy``'s name to its goals (keeping start and elapsed, as a priority change does).
    Returns how many timers changed."""
    at = at or timezone.now()
    goals = {(t.priority, t.metric): t.goal_seconds for t in policy.targets.all()}
    changed = 0
    with transaction.atomic():
        older = SlaTimer.objects.filter(
            policy__name=policy.name, policy__version__lt=policy.version, state__in=OPEN_STATES
        ).select_related("policy")
        for timer in older:
            goal = goals.get((timer.priority, timer.metric))
            if goal is None:
                continue
            reason = f"policy {policy.name} v{timer.policy.version} -> v{policy.version}: audited recompute"
            timer = timer_change_goal(
                timer=timer, priority=timer.priority, goal_seconds=goal, at=at, reason=reason, actor=actor
            )
            SlaTimer.objects.filter(pk=timer.pk).update(policy=policy)
            changed += 1
        audit_record(
            actor=actor,
            action="sla.timers.retarget",
            target_type="sla_policy",
            target_id=policy.pk,
            data={"name": policy.name, "version": policy.version, "timers": changed},
        )
    return changed


# ---- history ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayedState:
    state: str
    priority: str
    goal_seconds: int
    elapsed_business_seconds: float
    resumed_at: datetime | None
    warned_pct: int
    breached_at: datetime | None
    stopped_at: datetime | None
    deadline: datetime | None


def timer_replay(*, timer: SlaTimer) -> ReplayedState:
    """Recompute the timer's state from its event history alone (and its calendar)."""
    cal = _cal(timer)
    state, priority, goal, elapsed = None, "", 0, 0.0
    resumed = stopped = breached = None
    warned = 0
    for ev in timer.events.order_by("at", "id"):
        if ev.kind == EventKind.STARTED:
            state, goal, priority, resumed, elapsed = (
                TimerState.RUNNING,
                ev.data["goal_seconds"],
                ev.data["priority"],
                ev.at,
                0.0,
            )
        elif ev.kind == EventKind.PAUSED:
            elapsed += cal.elapsed(resumed, ev.at).total_seconds()
            state, resumed = TimerState.PAUSED, None
        elif ev.kind == EventKind.RESUMED:
            state, resumed = TimerState.RUNNING, ev.at
        elif ev.kind == EventKind.GOAL_CHANGED:
            if state == TimerState.RUNNING:
                elapsed += cal.elapsed(resumed, ev.at).total_seconds()
                resumed = ev.at
            goal, priority = ev.data["goal_seconds"], ev.data["priority"]
        elif ev.kind == EventKind.WARNED:
            warned = max(warned, ev.data["pct"])
        elif ev.kind == EventKind.BREACHED:
            breached = breached or ev.at
        elif ev.kind in (EventKind.MET, EventKind.CANCELLED):
            if state == TimerState.RUNNING:
                elapsed += cal.elapsed(resumed, ev.at).total_seconds()
            state = TimerState.MET if ev.kind == EventKind.MET else TimerState.CANCELLED
            resumed, stopped = None, ev.at
    deadline = None
    if state == TimerState.RUNNING:
        remaining = goal - elapsed
        deadline = resumed if remaining <= 0 else cal.add(resumed, timedelta(seconds=remaining))
    return ReplayedState(
        state=state,
        priority=priority,
        goal_seconds=goal,
        elapsed_business_seconds=elapsed,
        resumed_at=resumed,
        warned_pct=warned,
        breached_at=breached,
        stopped_at=stopped,
        deadline=deadline,
    )


def timer_verify(*, timer: SlaTimer) -> list[str]:
    """Differences between the stored row and the state recomputed from its history (empty: consistent)."""
    timer.refresh_from_db()
    replayed = timer_replay(timer=timer)
    problems = []
    for name in (
        "state",
        "priority",
        "goal_seconds",
        "resumed_at",
        "warned_pct",
        "breached_at",
        "stopped_at",
        "deadline",
    ):
        stored, derived = getattr(timer, name), getattr(replayed, name)
        if stored != derived:
            problems.append(f"{name}: stored {stored!r}, history says {derived!r}")
    if abs(timer.elapsed_business_seconds - replayed.elapsed_business_seconds) > 1e-3:
        problems.append(
            f"elapsed_business_seconds: stored {timer.elapsed_business_seconds}, "
            f"history says {replayed.elapsed_business_seconds}"
        )
    return problems


# ---- the pipeline step ---------------------------------------------------------------------------------------

ALERT_METRICS = ("acknowledge", "resolve")
INCIDENT_METRICS = ("notify",)  # "update" starts when the customer is first notified (mdr.escalations)


def alert_timers_start(*, alerts: list, policy: SlaPolicy, coverage: BusinessCalendar, timezone_name: str) -> int:
    """Start the alert-level timers (acknowledge, resolve) of in-scope alerts, per the policy's targets for
    each alert's priority. Clocks start at the alert's arrival, or at the next coverage window when it arrived
    outside coverage hours. Idempotent (an open timer is kept)."""
    return timers_start_bulk(
        subject_type="alert",
        subjects=[(str(a.pk), a.priority, a.received_at) for a in alerts],
        metrics=ALERT_METRICS,
        policy=policy,
        coverage=coverage,
        timezone_name=timezone_name,
    )


def incident_timers_start(*, incidents: list, policy: SlaPolicy, coverage: BusinessCalendar, timezone_name: str) -> int:
    """Start the incident-level clocks (time to notify the customer's CSIRT) of new incidents: once per incident,
    never again after it was met or cancelled."""
    return timers_start_bulk(
        subject_type="incident",
        subjects=[(str(i.pk), i.priority, i.created_at) for i in incidents],
        metrics=INCIDENT_METRICS,
        policy=policy,
        coverage=coverage,
        timezone_name=timezone_name,
        once=True,
    )


def timers_start_bulk(
    *,
    subject_type: str,
    subjects: list[tuple[str, str, datetime]],
    metrics: tuple[str, ...],
    policy: SlaPolicy,
    coverage: BusinessCalendar,
    timezone_name: str,
    once: bool = False,
) -> int:
    """Start ``metrics`` for each (subject id, priority, arrival) per the policy's targets. Set-based: a handful of
    statements whatever the number of subjects (timers, their ``started`` events, the due-work and queue index
    rows). An open timer is kept; with ``once`` a subject that ever had the metric gets no new one."""
    from mdr.jobs.models import DueWork

    targets = {(t.priority, t.metric): t for t in policy.targets.select_related("calendar")}
    calendars = {key: target_calendar(t, coverage=coverage, timezone_name=timezone_name) for key, t in targets.items()}
    specs = {key: cal.to_dict() for key, cal in calendars.items()}
    wanted = [(subject, metric) for subject in subjects for metric in metrics if (subject[1], metric) in targets]
    if not wanted:
        return 0
    existing_qs = SlaTimer.objects.filter(
        subject_type=subject_type, subject_id__in={s[0] for s, _ in wanted}, metric__in=metrics
    )
    if not once:
        existing_qs = existing_qs.filter(state__in=OPEN_STATES)
    existing = set(existing_qs.values_list("subject_id", "metric"))
    thresholds = policy.warning_thresholds
    timers = []
    for (subject_id, priority, arrived_at), metric in wanted:
        if (subject_id, metric) in existing:
            continue
        key = (priority, metric)
        # Outside the contract's coverage hours the clock starts when the next coverage window opens, whatever
        # calendar the target then runs on (a 24x7 target still waits for the service to be on duty).
        start_at = coverage.next_working(arrived_at)
        goal = targets[key].goal_seconds
        timers.append(
            SlaTimer(
                subject_type=subject_type,
                subject_id=subject_id,
                metric=metric,
                priority=priority,
                policy=policy,
                goal_seconds=goal,
                calendar_spec=specs[key],
                warning_thresholds=thresholds,
                state=TimerState.RUNNING,
                started_at=start_at,
                resumed_at=start_at,
                deadline=calendars[key].add(start_at, timedelta(seconds=goal)),
            )
        )
    if not timers:
        return 0
    with transaction.atomic():
        SlaTimer.objects.bulk_create(timers)
        SlaTimerEvent.objects.bulk_create(
            SlaTimerEvent(
                timer=t,
                kind=EventKind.STARTED,
                at=t.started_at,
                data={"goal_seconds": t.goal_seconds, "priority": t.priority, "calendar": t.calendar_spec},
            )
            for t in timers
        )
        schema = connection.schema_name
        due = []
        for timer in timers:
            cal = calendars[(timer.priority, timer.metric)]
            instants = [at for _, at in _warning_instants(timer, cal)] + [timer.deadline]
            due.append(DueWork(schema_name=schema, kind=DUE_ACTOR, ref=str(timer.pk), due_at=min(instants)))
        DueWork.objects.bulk_create(
            due, update_conflicts=True, unique_fields=["schema_name", "kind", "ref"], update_fields=["due_at"]
        )
        TimerIndex.objects.bulk_create(
            [
                TimerIndex(
                    schema_name=schema,
                    timer_id=t.pk,
                    subject_type=t.subject_type,
                    subject_id=t.subject_id,
                    metric=t.metric,
                    priority=t.priority,
                    deadline=t.deadline,
                    breached=False,
                )
                for t in timers
            ],
            update_conflicts=True,
            unique_fields=["schema_name", "timer_id"],
            update_fields=["deadline", "breached", "priority"],
        )
    return len(timers)
