"""SLA timers: start, warn, breach, pause/resume, goal changes, stop; history replay; the sweep's idempotency."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.jobs.models import DueWork, TimerIndex
from mdr.sla import services
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.models import EventKind, SlaBreach

TOKYO = ZoneInfo("Asia/Tokyo")
ACTOR = Actor.system("tests")
BUSINESS = BusinessCalendar(
    timezone="Asia/Tokyo", weekly_hours={d: [("09:00", "18:00")] for d in range(5)}, holidays=["JP"]
)
ALWAYS = BusinessCalendar.always(timezone="Asia/Tokyo")


def t(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in November 2026, Tokyo (2026-11-20 is a Friday; 11-23 a national holiday, Monday)."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=TOKYO)


def start(goal_minutes: float, calendar=ALWAYS, at=None, **kw):
    return services.timer_start(
        subject_type="alert",
        subject_id=kw.pop("subject", "a1"),
        metric=kw.pop("metric", "acknowledge"),
        priority=kw.pop("priority", "P2"),
        goal_seconds=int(goal_minutes * 60),
        calendar=calendar,
        at=at or t(19, 10),
        **kw,
    )


def kinds(timer) -> list[str]:
    return list(timer.events.order_by("at", "id").values_list("kind", flat=True))


def test_breach_is_recorded_exactly_at_the_deadline_once(acme):
    with schema_context("acme"):
        timer = start(60)
        assert timer.deadline == t(19, 11)
        # one second before: only warnings
        result = services.timer_due(timer_id=timer.pk, now=t(19, 10, 59, 59))
        assert result.warned == (50, 75, 90) and not result.breached
        # the sweep notices late (and twice): the breach instant is still the deadline, recorded once
        assert services.timer_due(timer_id=timer.pk, now=t(19, 13)).breached
        assert services.timer_due(timer_id=timer.pk, now=t(19, 14)) == services.TickResult(warned=(), breached=False)
        timer.refresh_from_db()
        assert timer.breached_at == t(19, 11)
        assert SlaBreach.objects.get(timer=timer).evidence["goal_seconds"] == 3600
        assert kinds(timer).count("breached") == 1 and kinds(timer).count("warned") == 3
        assert services.timer_verify(timer=timer) == []


def test_a_sweep_after_two_hours_down_catches_up_in_one_pass(acme):
    with schema_context("acme"):
        timer = start(30)
        result = services.timer_due(timer_id=timer.pk, now=t(19, 10) + timedelta(hours=2))
        assert result == services.TickResult(warned=(50, 75, 90), breached=True)
        assert kinds(timer) == ["started", "warned", "warned", "warned", "breached"]
        # the warning events carry their own instants, not the late tick's
        warned_at = list(timer.events.filter(kind="warned").values_list("at", flat=True))
        assert warned_at == [t(19, 10, 15), t(19, 10, 22, 30), t(19, 10, 27)]
        assert not DueWork.objects.filter(schema_name="acme", ref=str(timer.pk)).exists()


def test_business_hours_and_holidays_hold_the_clock(acme):
    with schema_context("acme"):
        # Friday 17:30 + 1 business hour: 30 min Friday, Monday 23rd is a holiday -> Tuesday 09:30
        timer = start(60, calendar=BUSINESS, at=t(20, 17, 30))
        assert timer.deadline == t(24, 9, 30)


def test_pause_and_resume_across_closed_hours(acme):
    with schema_context("acme"):
        timer = start(120, calendar=BUSINESS, at=t(20, 17, 0))  # Friday 17:00
        with pytest.raises(services.SlaError):
            services.timer_pause(timer=timer, at=t(20, 17, 30), reason=" ", actor=ACTOR)
        timer = services.timer_pause(timer=timer, at=t(20, 17, 30), reason="awaiting customer", actor=ACTOR)
        assert timer.elapsed_business_seconds == 1800 and timer.deadline is None
        assert TimerIndex.objects.get(schema_name="acme", timer_id=timer.pk).deadline is None
        # resumed Saturday night: nothing counts until Tuesday 09:00; 90 minutes left -> 10:30
        timer = services.timer_resume(timer=timer, at=t(21, 22, 0), actor=ACTOR)
        assert timer.deadline == t(24, 10, 30)
        assert services.timer_verify(timer=timer) == []


def test_priority_up_past_the_new_goal_breaches_at_once_and_only_once(acme):
    with schema_context("acme"):
        timer = start(240, priority="P3")  # 4 h
        timer = services.timer_change_goal(
            timer=timer, priority="P1", goal_seconds=1800, at=t(19, 11), reason="ransomware confirmed", actor=ACTOR
        )
        # 60 minutes elapsed against a new goal of 30: breached at the change
        assert timer.breached_at == t(19, 11)
        assert timer.started_at == t(19, 10)  # the start is kept
        services.timer_due(timer_id=timer.pk, now=t(19, 12))
        timer = services.timer_change_goal(
            timer=timer, priority="P1", goal_seconds=900, at=t(19, 13), reason="again", actor=ACTOR
        )
        assert kinds(timer).count("breached") == 1
        assert services.timer_verify(timer=timer) == []


def test_priority_down_keeps_elapsed_and_moves_the_deadline(acme):
    with schema_context("acme"):
        timer = start(60, priority="P1")
        timer = services.timer_change_goal(
            timer=timer,
            priority="P3",
            goal_seconds=4 * 3600,
            at=t(19, 10, 30),
            reason="false alarm likely",
            actor=ACTOR,
        )
        assert timer.deadline == t(19, 14) and timer.breached_at is None
        assert timer.events.get(kind="goal_changed").data["old_goal_seconds"] == 3600


def test_stop_meets_the_timer_and_keeps_both_elapsed_times(acme):
    with schema_context("acme"):
        timer = start(60, calendar=BUSINESS, at=t(20, 17, 30))
        timer = services.timer_stop(timer=timer, at=t(24, 9, 15))
        assert timer.state == "met" and timer.breached_at is None
        assert timer.elapsed_business_seconds == 45 * 60
        assert timer.elapsed_wall_seconds == (t(24, 9, 15) - t(20, 17, 30)).total_seconds()
        assert not TimerIndex.objects.filter(schema_name="acme", timer_id=timer.pk).exists()
        late = start(10, subject="a2")
        late = services.timer_stop(timer=late, at=t(19, 12))  # the sweep never ran: the stop records the breach
        assert late.breached_at == t(19, 10, 10) and late.state == "met"


def test_starting_twice_keeps_one_open_timer(acme):
    with schema_context("acme"):
        assert start(60).pk == start(30).pk


def test_replay_detects_a_tampered_row(acme):
    with schema_context("acme"):
        timer = start(60)
        services.timer_pause(timer=timer, at=t(19, 10, 20), reason="customer asked", actor=ACTOR)
        type(timer).objects.filter(pk=timer.pk).update(elapsed_business_seconds=5)
        assert any("elapsed_business_seconds" in p for p in services.timer_verify(timer=timer))


def test_policy_edit_never_changes_running_timers(acme):
    with schema_context("acme"):
        v1 = services.policy_create(
            actor=ACTOR, name="gold", targets=[{"priority": "P2", "metric": "acknowledge", "goal_minutes": 30}]
        )
        timer = start(30, policy=v1)
        v2 = services.policy_create(
            actor=ACTOR, name="gold", targets=[{"priority": "P2", "metric": "acknowledge", "goal_minutes": 10}]
        )
        assert v2.version == 2
        timer.refresh_from_db()
        assert timer.goal_seconds == 1800 and timer.policy_id == v1.pk


def test_policy_validation_names_the_field(acme):
    with schema_context("acme"):
        for targets, field in [
            ([{"priority": "P9", "metric": "acknowledge", "goal_minutes": 5}], "targets[0].priority"),
            ([{"priority": "P1", "metric": "x", "goal_minutes": 5}], "targets[0].metric"),
            ([{"priority": "P1", "metric": "notify", "goal_minutes": -1}], "targets[0].goal_minutes"),
            ([{"priority": "P1", "metric": "notify", "goal_minutes": 5, "calendar": "mars"}], "targets[0].calendar"),
        ]:
            with pytest.raises(services.SlaError) as err:
                services.policy_create(actor=ACTOR, name="x", targets=targets)
            assert err.value.field == field


def test_events_are_the_whole_story(acme):
    with schema_context("acme"):
        timer = start(60)
        services.timer_pause(timer=timer, at=t(19, 10, 5), reason="awaiting customer", actor=ACTOR)
        services.timer_resume(timer=timer, at=t(19, 10, 50), actor=ACTOR)
        services.timer_due(timer_id=timer.pk, now=t(19, 11, 20))  # 35 of 60 minutes counted: the 50 % warning
        services.timer_stop(timer=timer, at=t(19, 12))  # 75 minutes counted: met late, breach at 11:45
        timer.refresh_from_db()
        assert kinds(timer) == ["started", "paused", "resumed", "warned", "breached", "met"]
        assert timer.breached_at == t(19, 11, 45)
        assert timer.events.get(kind=EventKind.PAUSED).data == {"reason": "awaiting customer"}
        assert services.timer_verify(timer=timer) == []


def test_an_audited_recompute_moves_running_timers_to_the_new_policy(acme):
    from mdr.audit.models import AuditEvent

    with schema_context("acme"):
        v1 = services.policy_create(
            actor=ACTOR, name="gold", targets=[{"priority": "P2", "metric": "acknowledge", "goal_minutes": 60}]
        )
        timer = start(60, policy=v1)
        v2 = services.policy_create(
            actor=ACTOR, name="gold", targets=[{"priority": "P2", "metric": "acknowledge", "goal_minutes": 30}]
        )
        assert services.timers_retarget(actor=ACTOR, policy=v2, at=t(19, 10, 10)) == 1
        timer.refresh_from_db()
        assert (timer.goal_seconds, timer.policy_id, timer.deadline) == (1800, v2.pk, t(19, 10, 30))
        assert "audited recompute" in timer.events.get(kind="goal_changed").data["reason"]
        assert AuditEvent.objects.get(action="sla.timers.retarget").data["timers"] == 1
        assert services.timer_verify(timer=timer) == []


def test_cancel_stops_the_clock_without_meeting_it(acme):
    with schema_context("acme"):
        timer = start(60)
        timer = services.timer_cancel(
            timer=timer, at=t(19, 10, 20), reason="alert merged into an incident", actor=ACTOR
        )
        assert (timer.state, timer.deadline, timer.elapsed_business_seconds) == ("cancelled", None, 1200)
        assert not DueWork.objects.filter(schema_name="acme", ref=str(timer.pk)).exists()
        assert services.timer_cancel(timer=timer, at=t(19, 11), reason="again", actor=ACTOR).state == "cancelled"
        assert services.timer_verify(timer=timer) == []
