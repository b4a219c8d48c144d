"""Correlation into incidents, the lifecycle with SLA pauses, priority changes, notes, merge and split."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.incidents import services
from mdr.incidents.models import CorrelationRule, Incident
from mdr.sla.calendar import BusinessCalendar
from mdr.sla.services import timer_start
from tests.alerts.test_ingest_api import native
from tests.scope.helpers import new_version
from tests.scope.test_classification import ITEMS, ingest_and_process

ANALYST = Actor(type="provider_staff", name="analyst#7")
# Ahead of the contract version the tests publish (alerts before it are judged by version 1, which has no rules).
NOW = datetime.now(ZoneInfo("UTC")) + timedelta(hours=2)


@pytest.fixture
def scoped(acme):
    with schema_context("acme"):
        new_version(items=ITEMS)
    return acme


def _alert(n, host, minutes=0, severity="high", **kw):
    return native(
        n, hosts=[host], ips=[], severity=severity, observed_at=(NOW + timedelta(minutes=minutes)).isoformat(), **kw
    )


def test_alerts_of_one_host_join_one_incident(scoped):
    alerts = ingest_and_process(scoped, [_alert(1, "web01"), _alert(2, "web01", 5), _alert(3, "web01.corp", 6)])
    alerts += ingest_and_process(scoped, [_alert(4, "web01", 10, severity="critical")])
    with schema_context("acme"):
        incidents = list(Incident.objects.all())
        assert len(incidents) == 2  # "web01" and "web01.corp" are different keys
        web01 = Incident.objects.get(correlation_key="web01")
        assert (web01.alert_count, web01.priority, web01.severity_id) == (3, "P1", 5)
        assert {str(a.incident_id) for a in alerts if a.hosts == ["web01"]} == {str(web01.pk)}
        assert list(web01.timeline.values_list("kind", flat=True)) == ["created", "alerts_added", "alerts_added"]


def test_outside_the_window_a_new_incident_takes_the_key(scoped):
    with schema_context("acme"):
        CorrelationRule.objects.create(name="host-15", key="host", window_minutes=15)
    ingest_and_process(scoped, [_alert(1, "web01", -60)])
    ingest_and_process(scoped, [_alert(2, "web01", 0)])
    with schema_context("acme"):
        old, new = Incident.objects.order_by("created_at")
        assert old.state == "new" and old.correlation_rule == ""  # still open, no longer correlating
        assert new.correlation_key == "web01" and new.alert_count == 1


def test_one_open_incident_per_rule_and_key_is_enforced_by_the_database(scoped):
    with schema_context("acme"):
        Incident.objects.create(title="a", severity_id=3, priority="P3", correlation_rule="r", correlation_key="k")
        with pytest.raises(IntegrityError), transaction.atomic():
            Incident.objects.create(title="b", severity_id=3, priority="P3", correlation_rule="r", correlation_key="k")
        # a closed one does not count
        Incident.objects.filter(correlation_key="k").update(state="closed")
        Incident.objects.create(title="c", severity_id=3, priority="P3", correlation_rule="r", correlation_key="k")


def test_low_priority_and_out_of_scope_alerts_open_no_incident(scoped):
    # low severity on a medium asset (the 10.0.0.0/8 rule) is P4; lab-* is excluded
    low = native(1, hosts=["printer-9"], ips=["10.0.0.9"], severity="low", observed_at=NOW.isoformat())
    ingest_and_process(scoped, [low, _alert(2, "lab-3", severity="critical")])
    with schema_context("acme"):
        assert not Incident.objects.exists()


def test_lifecycle_and_awaiting_customer_pauses_the_clocks(scoped):
    ingest_and_process(scoped, [_alert(1, "web01", severity="critical")])
    with schema_context("acme"):
        incident = Incident.objects.get()
        timer = timer_start(
            subject_type="incident",
            subject_id=str(incident.pk),
            metric="resolve",
            priority="P1",
            goal_seconds=4 * 3600,
            calendar=BusinessCalendar.always(timezone="UTC"),
            at=NOW,
        )
        with pytest.raises(services.IncidentError) as err:
            services.incident_transition(incident=incident, to="contained", actor=ANALYST)  # not from new
        assert err.value.field == "state"
        services.incident_transition(incident=incident, to="investigating", actor=ANALYST, at=NOW)
        with pytest.raises(services.IncidentError) as err:
            services.incident_transition(incident=incident, to="awaiting_customer", actor=ANALYST)
        assert err.value.field == "reason"
        services.incident_transition(
            incident=incident,
            to="awaiting_customer",
            reason="isolate WS-01?",
            actor=ANALYST,
            at=NOW + timedelta(minutes=30),
        )
        timer.refresh_from_db()
        assert timer.state == "paused" and timer.elapsed_business_seconds == 1800
        services.incident_transition(incident=incident, to="contained", actor=ANALYST, at=NOW + timedelta(hours=2))
        timer.refresh_from_db()
        assert timer.state == "running"
        assert timer.deadline == NOW + timedelta(hours=2) + timedelta(hours=3, minutes=30)
        resolved = services.incident_transition(incident=incident, to="resolved", actor=ANALYST)
        assert resolved.resolved_at is not None
        with pytest.raises(services.IncidentError):
            services.incident_transition(incident=resolved, to="escalated", actor=ANALYST)


def test_new_to_closed_then_reopen(scoped):
    ingest_and_process(scoped, [_alert(1, "web01")])
    with schema_context("acme"):
        incident = services.incident_transition(incident=Incident.objects.get(), to="closed", actor=ANALYST)
        assert incident.closed_at
        reopened = services.incident_transition(incident=incident, to="investigating", actor=ANALYST, reason="again")
        assert reopened.closed_at is None and reopened.state == "investigating"


def test_priority_change_needs_a_reason_and_swaps_clock_goals(scoped):
    ingest_and_process(scoped, [_alert(1, "web01")])
    with schema_context("acme"):
        incident = Incident.objects.get()
        timer = timer_start(
            subject_type="incident",
            subject_id=str(incident.pk),
            metric="notify",
            priority="P2",
            goal_seconds=3600,
            calendar=BusinessCalendar.always(timezone="UTC"),
            at=NOW,
        )
        with pytest.raises(services.IncidentError):
            services.incident_set_priority(incident=incident, priority="P1", severity_id=5, reason="", actor=ANALYST)
        incident = services.incident_set_priority(
            incident=incident,
            priority="P1",
            severity_id=5,
            reason="domain admin compromised",
            actor=ANALYST,
            goals={"notify": 900},
            at=NOW + timedelta(minutes=20),
        )
        timer.refresh_from_db()
        assert (incident.priority, timer.goal_seconds, timer.breached_at) == ("P1", 900, NOW + timedelta(minutes=20))
        assert incident.timeline.get(kind="priority").text == "domain admin compromised"


def test_notes_merge_split(scoped):
    alerts = ingest_and_process(scoped, [_alert(1, "web01"), _alert(2, "db01", 1), _alert(3, "db01", 2)])
    with schema_context("acme"):
        a, b = Incident.objects.get(correlation_key="web01"), Incident.objects.get(correlation_key="db01")
        services.incident_note(incident=a, text="internal: looks like pentest", actor=ANALYST)
        services.incident_note(incident=a, text="We are investigating.", actor=ANALYST, customer_visible=True)
        assert list(a.timeline.filter(visibility="customer").values_list("text", flat=True)) == [
            "We are investigating."
        ]
        with pytest.raises(services.IncidentError):
            services.incident_merge(source=b, target=a, actor=ANALYST, reason="")
        merged = services.incident_merge(source=b, target=a, actor=ANALYST, reason="same intrusion")
        b.refresh_from_db()
        assert (merged.alert_count, b.state, b.merged_into, b.alert_count) == (3, "closed", a.pk, 0)
        db_alerts = [x for x in alerts if x.hosts == ["db01"]]
        for x in db_alerts:
            x.refresh_from_db()
        split = services.incident_split(
            incident=merged, alerts=db_alerts, title="db01 brute force", actor=ANALYST, reason="different actor"
        )
        merged.refresh_from_db()
        assert (split.alert_count, merged.alert_count) == (2, 1)
        assert merged.timeline.get(kind="split").text == "different actor"
        with pytest.raises(services.IncidentError):
            services.incident_split(incident=merged, alerts=db_alerts, title="x", actor=ANALYST, reason="again")
