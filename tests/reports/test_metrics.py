"""reports.metrics: every figure of the monthly report equals what the test computes itself from the rows it wrote
(never by calling the code under test twice), the month boundaries in the customer's time zone, contract changes
mid-month, pauses and breaches, an empty month, and a query count that does not grow with the data."""

import json
import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.incidents.models import OPEN_STATES, IncidentEvent
from mdr.scope.models import Asset, CoverageDegradation, LogSourceState
from mdr.scope.selectors import version_in_force
from mdr.sla.services import policy_create
from reports.metrics import month_bounds, month_trend_point, monthly_metrics, sla_summary
from tests.reports.builders import (
    TimerSpec,
    alert_build,
    alerts_create,
    escalation_create,
    incident_create,
    month_data,
    month_start,
    paused_seconds,
    timer_create,
    timers_create,
    version_in_past,
)

ACTOR = Actor.system("tests")
TOKYO = ZoneInfo("Asia/Tokyo")
OCTOBER = date(2026, 10, 1)
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def percentile_cont(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def stats(values: list[float]) -> dict:
    return {
        "mean": round(sum(values) / len(values), 3),
        "median": round(percentile_cont(values, 0.5), 3),
        "p90": round(percentile_cont(values, 0.9), 3),
    }


def ranked(counter: Counter, n: int = 10) -> list[dict]:
    return [{"key": k, "count": c} for k, c in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def pct(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def _october(**kwargs):
    """A Tokyo contract in force since January and a varied October."""
    version_in_past(
        valid_from=jst(2026, 1, 1),
        terms={"timezone": "Asia/Tokyo"},
        entitlements=[
            {
                "metric": "log_sources",
                "limit": "10",
                "measurement": "unique_in_month",
                "over_limit_policy": "process_and_report",
            }
        ],
    )
    return month_data(month=OCTOBER, **kwargs)


# ---- the month -------------------------------------------------------------------------------------------------


def test_an_alert_at_tokyo_midnight_belongs_to_the_tokyo_month(acme):
    with schema_context("acme"):
        # given: a Tokyo contract; one alert just before and one just after 2026-11-01 00:00 JST
        version_in_past(valid_from=jst(2026, 1, 1), terms={"timezone": "Asia/Tokyo"})
        alerts_create(
            [
                alert_build(received_at=datetime(2026, 10, 31, 14, 59, tzinfo=UTC), rule_id="october"),
                alert_build(received_at=datetime(2026, 10, 31, 15, 30, tzinfo=UTC), rule_id="november"),
            ]
        )
        # when
        october = monthly_metrics(month=date(2026, 10, 17), as_of=AS_OF)
        november = monthly_metrics(month=date(2026, 11, 1), as_of=AS_OF)
    # then
    assert october["period"] == {
        "month": "2026-10",
        "start": "2026-09-30T15:00:00+00:00",
        "end": "2026-10-31T15:00:00+00:00",
        "timezone": "Asia/Tokyo",
        "as_of": "2026-11-20T00:00:00+00:00",
    }
    assert october["funnel"]["received"] == 1
    assert october["breakdowns"]["top_rules"] == [{"key": "october", "name": "Suspicious process", "count": 1}]
    assert november["funnel"]["received"] == 1
    assert november["breakdowns"]["top_rules"][0]["key"] == "november"


def test_the_month_follows_the_zone_of_the_version_in_force_at_its_local_midnight(acme):
    with schema_context("acme"):
        # given: Tokyo until Berlin's midnight of 1 November, Berlin from then on
        berlin_november = datetime(2026, 11, 1, tzinfo=ZoneInfo("Europe/Berlin"))
        tokyo = version_in_past(valid_from=jst(2026, 1, 1), valid_to=berlin_november, terms={"timezone": "Asia/Tokyo"})
        berlin = version_in_past(valid_from=berlin_november, terms={"timezone": "Europe/Berlin"})
        # when
        october = month_bounds(month=OCTOBER)
        november = month_bounds(month=date(2026, 11, 30))
        # then: October starts at Tokyo midnight (found although the latest version is Berlin's), November at
        # Berlin's; each agrees with version_in_force at its own start
        assert october == (jst(2026, 10, 1), jst(2026, 11, 1), "Asia/Tokyo")
        assert november == (berlin_november, datetime(2026, 12, 1, tzinfo=ZoneInfo("Europe/Berlin")), "Europe/Berlin")
        assert version_in_force(at=october[0]).pk == tokyo.pk
        assert version_in_force(at=november[0]).pk == berlin.pk


# ---- figures of a varied month -----------------------------------------------------------------------------------


def test_funnel_scope_counts_and_breakdowns_equal_the_alert_rows(acme):
    with schema_context("acme"):
        # given
        data = _october(alerts=70, incidents=6)
        alerts = data.alerts
        # when
        m = monthly_metrics(month=OCTOBER, as_of=AS_OF)
    # then
    assert json.loads(json.dumps(m)) == m  # JSON as is: no Decimal, datetime or tuple anywhere
    worked = [a for a in alerts if a.scope_status in ("in_scope", "unknown_asset")]
    classes = Counter(a.classification for a in alerts if a.classification)
    assert m["funnel"] == {
        "received": len(alerts),
        "occurrences": sum(a.occurrence_count for a in alerts),
        "worked": len(worked),
        "triaged": sum(1 for a in worked if a.acknowledged_at or a.classification),
        "in_incidents": sum(1 for a in alerts if a.incident_id),
        "incidents": len(data.incidents),
        "classified": {c: classes[c] for c in ("true_positive", "benign_true_positive", "false_positive", "duplicate")},
        "false_positive_rate": pct(classes["false_positive"], sum(classes.values())),
    }
    scope = Counter(a.scope_status for a in alerts)
    assert m["coverage"]["scope_counts"] == {
        s: scope[s]
        for s in ("in_scope", "out_of_scope", "excluded", "unknown_asset", "unsupported_source", "over_quota")
    }
    assert m["coverage"]["in_scope_assets"] == len({h for a in alerts if a.scope_status == "in_scope" for h in a.hosts})

    b = m["breakdowns"]
    severity = Counter(a.severity_id for a in alerts)
    assert b["by_severity"] == [{"key": str(s), "count": severity[s]} for s in (6, 5, 4, 3, 2, 1, 0)]
    priority = Counter(a.priority for a in worked)
    assert b["by_priority"] == [{"key": p, "count": priority[p]} for p in ("P1", "P2", "P3", "P4")]
    assert b["by_category"] == ranked(Counter(a.category for a in alerts if a.category))
    assert b["by_tactic"] == ranked(Counter(t for a in alerts for t in a.tactics))
    assert b["by_technique"] == ranked(Counter(t for a in alerts for t in a.techniques))
    assert b["by_source"] == ranked(Counter(a.source_product or a.source_format for a in alerts))
    rules = Counter(a.rule_id for a in alerts)
    names = {a.rule_id: a.rule_name for a in alerts}
    assert b["top_rules"] == [{"key": r["key"], "name": names[r["key"]], "count": r["count"]} for r in ranked(rules)]
    hosts = Counter(h for a in alerts for h in a.hosts)
    users = Counter(u for a in alerts for u in a.users)
    assert b["top_hosts"] == ranked(hosts)
    assert b["top_users"] == ranked(users)
    assert len(b["top_hosts"]) == 10 < len(hosts)  # the cut is exercised
    assert b["totals"] == {
        "categories": len({a.category for a in alerts if a.category}),
        "rules": len(rules),
        "hosts": len(hosts),
        "users": len(users),
    }


def test_coverage_lists_log_sources_entitlements_inventory_and_degradations(acme):
    with schema_context("acme"):
        # given: the month, two inventory assets, Suricata silent since 28 October (detected, not over)
        data = _october(alerts=40, incidents=2)
        Asset.objects.create(hostname="ws-01")
        Asset.objects.create(hostname="srv-1")
        silent_since = jst(2026, 10, 28, 12)
        LogSourceState.objects.create(source_key="suricata", display_name="Suricata", last_seen_at=silent_since)
        CoverageDegradation.objects.create(
            source_key="suricata",
            display_name="Suricata",
            started_at=silent_since,
            detected_at=silent_since + timedelta(hours=24),
            heartbeat_hours=24,
            reason="no alert or heartbeat from Suricata for more than 24 h",
        )
        # when
        m = monthly_metrics(month=OCTOBER, as_of=timezone.now())
    # then
    coverage = m["coverage"]
    assert coverage["inventory_assets"] == 2
    products = {a.source_product.lower() for a in data.alerts}  # usage counts distinct products ("" included)
    assert coverage["entitlements"] == [
        {
            "metric": "log_sources",
            "limit": 10.0,
            "used": float(len(products)),
            "pct": pct(len(products), 10),
            "measurement": "unique_in_month",
        }
    ]
    by_source = Counter(a.source_product or a.source_format for a in data.alerts)
    last = {}
    for a in data.alerts:
        key = a.source_product or a.source_format
        last[key] = max(last.get(key, a.received_at), a.received_at)
    expected = [
        {
            "name": name,
            "last_seen_at": iso(silent_since if name == "Suricata" else last[name]),
            "alerts": count,
            "silent": name == "Suricata",
        }
        for name, count in sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    assert coverage["log_sources"] == expected
    end = month_start(date(2026, 11, 1))
    assert coverage["degraded_periods"] == [
        {
            "source": "Suricata",
            "start": iso(silent_since),
            "end": None,
            "seconds": (end - silent_since).total_seconds(),  # the part inside the month
            "reason": "no alert or heartbeat from Suricata for more than 24 h",
        }
    ]
    assert "silent_sources" in m["health"]["reasons"]


def test_incidents_block_lists_the_month_incidents_with_their_milestones(acme):
    with schema_context("acme"):
        # given
        data = _october(alerts=20, incidents=7)
        timeline = {
            i.pk: list(IncidentEvent.objects.filter(incident=i, kind="state").order_by("at")) for i in data.incidents
        }
        # when
        m = monthly_metrics(month=OCTOBER, as_of=AS_OF)
    # then
    incidents = data.incidents
    block = m["incidents"]
    assert block["created"] == block["list_total"] == len(incidents)
    priorities = Counter(i.priority for i in incidents)
    assert block["by_priority"] == {p: priorities[p] for p in ("P1", "P2", "P3", "P4")}
    states = Counter(i.state for i in incidents)
    assert block["by_state"] == {
        s: states[s]
        for s in ("new", "investigating", "escalated", "awaiting_customer", "contained", "resolved", "closed")
    }
    assert block["open_at_end"] == sum(1 for i in incidents if i.state in OPEN_STATES)
    expected = []
    for i in sorted(incidents, key=lambda i: (i.priority, i.created_at)):
        events = timeline[i.pk]
        contained = [e.at for e in events if e.data["new"] == "contained"]
        expected.append(
            {
                "id": str(i.pk),
                "title": i.title,
                "priority": i.priority,
                "severity_id": i.severity_id,
                "state": i.state,
                "alert_count": i.alert_count,
                "detected_at": iso(i.created_at),
                "acknowledged_at": iso(events[0].at),
                "notified_at": iso(i.notified_at),
                "customer_acknowledged_at": iso(i.customer_acknowledged_at),
                "contained_at": iso(contained[0]) if contained else None,
                "resolved_at": iso(i.resolved_at),
                "closed_at": iso(i.closed_at),
            }
        )
    assert block["list"] == expected


def test_incident_states_are_taken_at_month_end_and_at_as_of(acme):
    with schema_context("acme"):
        # given: X from September still investigating; Y resolved after the month; Z resolved in the month and
        # reopened after it; W merged (closed) in the month
        x = incident_create(
            created_at=jst(2026, 9, 20), priority="P3", transitions=[("investigating", jst(2026, 9, 20, 1))]
        )
        y = incident_create(
            created_at=jst(2026, 10, 10),
            priority="P4",
            transitions=[("investigating", jst(2026, 10, 10, 1)), ("resolved", jst(2026, 11, 3))],
        )
        z = incident_create(
            created_at=jst(2026, 10, 5),
            priority="P2",
            transitions=[
                ("investigating", jst(2026, 10, 5, 1)),
                ("resolved", jst(2026, 10, 20)),
                ("investigating", jst(2026, 11, 2)),
            ],
        )
        w = incident_create(created_at=jst(2026, 10, 12), priority="P3")
        IncidentEvent.objects.create(incident=w, kind="merged", at=jst(2026, 10, 13), actor="a", data={"into": "x"})
        type(w).objects.filter(pk=w.pk).update(state="closed", closed_at=jst(2026, 10, 13), merged_into=x.pk)
        # when: the report as of 20 November
        m = monthly_metrics(month=OCTOBER, as_of=AS_OF)
        # and as of 1 November, before Z was reopened and Y resolved
        early = monthly_metrics(month=OCTOBER, as_of=jst(2026, 11, 1, 12))
    # then: open at the end of October: X and Y
    assert m["incidents"]["open_at_end"] == 2
    assert m["incidents"]["by_state"]["resolved"] == 1  # Y
    assert m["incidents"]["by_state"]["investigating"] == 1  # Z, reopened
    assert m["incidents"]["by_state"]["closed"] == 1  # W
    assert {row["id"]: row["state"] for row in early["incidents"]["list"]} == {
        str(y.pk): "investigating",
        str(z.pk): "resolved",
        str(w.pk): "closed",
    }
    assert next(r for r in early["incidents"]["list"] if r["id"] == str(z.pk))["resolved_at"] == iso(jst(2026, 10, 20))
    # Z (P2) is open at as_of, not on 1 November
    assert "open_critical_incidents" in m["health"]["reasons"]
    assert "open_critical_incidents" not in early["health"]["reasons"]


def test_sla_rows_mtt_and_breaches_equal_the_timer_rows(acme):
    with schema_context("acme"):
        # given
        data = _october(alerts=80, incidents=5)
        # when
        m = monthly_metrics(month=OCTOBER, as_of=AS_OF)
    # then
    sla = m["sla"]
    groups: dict[tuple, Counter] = {}
    for t in data.timers:
        outcome = "breached" if t.breached_at else "met" if t.state == "met" else "open"
        groups.setdefault((t.metric, t.priority, t.subject_type, t.goal_seconds), Counter())[outcome] += 1
    order = {"acknowledge": 0, "notify": 1, "update": 2, "resolve": 3}
    expected_rows = [
        {
            "metric": metric,
            "priority": priority,
            "subject": subject,
            "met": c["met"],
            "breached": c["breached"],
            "open": c["open"],
            "compliance_pct": pct(c["met"], c["met"] + c["breached"]),
            "goal_seconds": goal,
        }
        for (metric, priority, subject, goal), c in sorted(groups.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))
    ]
    assert sla["rows"] == expected_rows
    met = sum(c["met"] for c in groups.values())
    breached = sum(c["breached"] for c in groups.values())
    assert breached > 0 and met > 0
    assert sla["overall"] == {"met": met, "breached": breached, "compliance_pct": pct(met, met + breached)}
    for metric in ("acknowledge", "notify"):
        stopped = [t for t in data.timers if t.metric == metric and t.state == "met"]
        assert sla["mtt"][metric] == {
            "n": len(stopped),
            "business": stats([t.elapsed_business_seconds for t in stopped]),
            "wall": stats([t.elapsed_wall_seconds for t in stopped]),
        }
    assert sla["mtt"]["resolve"] == {
        "n": 0,
        "business": {"mean": None, "median": None, "p90": None},
        "wall": {"mean": None, "median": None, "p90": None},
    }
    breaches = sorted((t for t in data.timers if t.breached_at), key=lambda t: (t.breached_at, t.pk))
    assert sla["breaches_total"] == len(breaches)
    assert [b["timer_id"] for b in sla["breaches"]] == [t.pk for t in breaches]
    specs = {s.subject_id: s for s in data.specs}
    for row, t in zip(sla["breaches"], breaches, strict=True):
        spec = specs[t.subject_id]
        assert row["late_seconds"] == round(t.elapsed_business_seconds - t.goal_seconds, 3)
        assert row["paused_seconds"] == paused_seconds(spec, t.stopped_at)
        assert row["deadline"] == row["breached_at"] == iso(t.breached_at)
    assert any(b["pauses"] for b in sla["breaches"])  # a breach with a pause is exercised
    paused = [s for s in data.specs if s.pauses]
    assert sla["paused_by_reason"] == [
        {
            "reason": "awaiting customer: confirm the host owner",
            "seconds": sum(paused_seconds(s, AS_OF) for s in paused),
            "count": len(paused),
        }
    ]


def test_escalations_block_counts_levels_deliveries_and_ack_times(acme):
    with schema_context("acme"):
        # given
        data = _october(alerts=10, incidents=7)
        sent = {e.pk: list(e.deliveries.all()) for e in data.escalations}
        # when
        m = monthly_metrics(month=OCTOBER, as_of=AS_OF)
    # then
    escalations = data.escalations
    acked = [e for e in escalations if e.acknowledged_at]
    block = m["escalations"]
    assert block["count"] == len(escalations)
    assert block["acknowledged"] == len(acked)
    assert block["unreachable"] == sum(1 for e in escalations if e.state == "unreachable")
    assert block["unanswered"] == sum(1 for e in escalations if e.state == "running")
    levels = Counter(
        max(d.level for d in sent[e.pk] if d.state == "sent" and d.notice_kind == "first") + 1 for e in escalations
    )
    assert block["by_level_reached"] == [{"level": lvl, "count": levels[lvl]} for lvl in sorted(levels)]
    assert block["customer_ack_seconds"] == {
        "n": len(acked),
        **stats([(e.acknowledged_at - e.started_at).total_seconds() for e in acked]),
    }
    deliveries = [d for e in escalations for d in sent[e.pk]]
    states = Counter(d.state for d in deliveries)
    assert block["deliveries"] == {
        "sent": states["sent"],
        "failed": states["failed"],
        "cancelled": states["cancelled"],
        "by_channel": ranked(Counter(d.channel for d in deliveries if d.state == "sent")),
    }
    first = escalations[0]
    assert block["list"][0] == {
        "incident_id": str(first.incident_id),
        "started_at": iso(first.started_at),
        "state": first.state,
        "level_reached": 1,
        "acknowledged_at": iso(first.acknowledged_at),
        "acknowledged_by": "CSIRT duty",
        "ack_seconds": (first.acknowledged_at - first.started_at).total_seconds(),
        "first_delivery_at": iso(min(d.delivered_at for d in sent[first.pk] if d.delivered_at)),
    }
    assert len(block["list"]) == len(escalations)
    assert m["health"] == {
        "status": "at_risk",
        "reasons": ["sla_breaches", "open_critical_incidents", "customer_unreachable"],
    }


# ---- contract changes, percentiles, pauses -------------------------------------------------------------------


def test_a_contract_change_mid_month_lists_both_versions_and_splits_sla_rows_by_policy(acme):
    with schema_context("acme"):
        # given: policy gold v1 (P1 acknowledge 15 min) until 15 October, gold v2 (10 min) from then
        gold1 = policy_create(
            actor=ACTOR, name="gold", targets=[{"priority": "P1", "metric": "acknowledge", "goal_minutes": 15}]
        )
        gold2 = policy_create(
            actor=ACTOR, name="gold", targets=[{"priority": "P1", "metric": "acknowledge", "goal_minutes": 10}]
        )
        first = version_in_past(
            valid_from=jst(2026, 9, 1), valid_to=jst(2026, 10, 15), terms={"sla_policy_id": gold1.pk}
        )
        second = version_in_past(
            valid_from=jst(2026, 10, 15),
            terms={"sla_policy_id": gold2.pk, "service_tier": "premium", "response_mode": "collaborate"},
        )
        before, after = jst(2026, 10, 3, 9), jst(2026, 10, 20, 9)

        def timer(policy, start, seconds):
            return TimerSpec(
                subject_type="alert",
                subject_id=f"{policy.version}-{start:%d}-{seconds}",
                metric="acknowledge",
                priority="P1",
                goal_seconds=policy.targets.get().goal_seconds,
                started_at=start,
                policy=policy,
                met_at=start + timedelta(seconds=seconds),
            )

        timers_create(
            [
                timer(gold1, before, 300),
                timer(gold1, before + timedelta(hours=1), 600),
                timer(gold1, before + timedelta(hours=2), 1000),  # late under 15 min
                timer(gold2, after, 300),
                timer(gold2, after + timedelta(hours=1), 700),  # late under 10 min, would be in time before
            ]
        )
        # when
        m = monthly_metrics(month=OCTOBER, as_of=AS_OF)
    # then
    assert m["contract"]["versions"] == [
        {
            "number": first.number,
            "valid_from": iso(jst(2026, 9, 1)),
            "valid_to": iso(jst(2026, 10, 15)),
            "service_tier": "standard",
            "response_mode": "notify_only",
            "timezone": "Asia/Tokyo",
            "coverage": "24x7",
            "sla_policy": {"id": gold1.pk, "name": "gold", "version": 1},
        },
        {
            "number": second.number,
            "valid_from": iso(jst(2026, 10, 15)),
            "valid_to": None,
            "service_tier": "premium",
            "response_mode": "collaborate",
            "timezone": "Asia/Tokyo",
            "coverage": "24x7",
            "sla_policy": {"id": gold2.pk, "name": "gold", "version": 2},
        },
    ]
    common = {"metric": "acknowledge", "priority": "P1", "subject": "alert", "open": 0}
    assert m["sla"]["rows"] == [
        {**common, "met": 2, "breached": 1, "compliance_pct": 66.7, "goal_seconds": 900},
        {**common, "met": 1, "breached": 1, "compliance_pct": 50.0, "goal_seconds": 600},
    ]
    assert m["sla"]["overall"] == {"met": 3, "breached": 2, "compliance_pct": 60.0}


def test_mean_median_and_p90_are_postgresql_percentiles_of_a_known_set(acme):
    with schema_context("acme"):
        # given: five met acknowledge timers (business seconds 60..600); the last one paused 100 s
        start = jst(2026, 10, 7, 9)
        seconds = [60, 120, 180, 240, 600]
        specs = [
            TimerSpec(
                subject_type="alert",
                subject_id=f"a{n}",
                metric="acknowledge",
                priority="P3",
                goal_seconds=3600,
                started_at=start,
                met_at=start + timedelta(seconds=s + (100 if s == 600 else 0)),
                pauses=[("awaiting customer: x", start + timedelta(seconds=10), start + timedelta(seconds=110))]
                if s == 600
                else [],
            )
            for n, s in enumerate(seconds)
        ]
        timers_create(specs)
        # when
        sla = sla_summary(start=month_start(OCTOBER), end=month_start(date(2026, 11, 1)), as_of=AS_OF)
    # then: mean 240, median 180, p90 = 240 + 0.6 x (600 - 240) = 456
    assert sla["mtt"]["acknowledge"] == {
        "n": 5,
        "business": {"mean": 240.0, "median": 180.0, "p90": 456.0},
        "wall": {"mean": 260.0, "median": 180.0, "p90": 516.0},
    }
    assert sla["paused_by_reason"] == [{"reason": "awaiting customer: x", "seconds": 100.0, "count": 1}]


def test_a_breach_reports_its_pauses_lateness_and_reason(acme):
    with schema_context("acme"):
        # given: A paused an hour for the customer, met 5 min late; B paused and still paused at as_of;
        # C breached by the sweep, still open, its evidence giving the reason
        t = jst(2026, 10, 5, 10)
        as_of = t + timedelta(days=2)
        a = timer_create(
            subject_type="alert",
            subject_id="A",
            metric="acknowledge",
            priority="P1",
            goal_seconds=900,
            started_at=t,
            pauses=[("awaiting customer: logs", t + timedelta(seconds=300), t + timedelta(seconds=3900))],
            met_at=t + timedelta(seconds=4800),
        )
        timer_create(
            subject_type="incident",
            subject_id="B",
            metric="notify",
            priority="P2",
            goal_seconds=1800,
            started_at=t + timedelta(days=1),
            pauses=[("awaiting customer: logs", t + timedelta(days=1, seconds=600), None)],
        )
        c = timer_create(
            subject_type="incident",
            subject_id="C",
            metric="resolve",
            priority="P1",
            goal_seconds=3600,
            started_at=t + timedelta(hours=2),
            pauses=[("maintenance window", t + timedelta(hours=2, minutes=10), t + timedelta(hours=2, minutes=40))],
            swept_at=as_of,
            breach_reason="priority raised to P1: goal already exceeded",
        )
        # when
        sla = monthly_metrics(month=OCTOBER, as_of=as_of)["sla"]
    # then
    assert sla["breaches_total"] == 2
    assert sla["breaches"] == [
        {
            "timer_id": a.pk,
            "subject": "alert",
            "subject_id": "A",
            "metric": "acknowledge",
            "priority": "P1",
            "deadline": iso(t + timedelta(seconds=4500)),
            "breached_at": iso(t + timedelta(seconds=4500)),
            "goal_seconds": 900,
            "late_seconds": 300.0,
            "reason": "goal 15m exceeded by 5m",
            "paused_seconds": 3600.0,
            "pauses": [{"reason": "awaiting customer: logs", "seconds": 3600.0}],
        },
        {
            "timer_id": c.pk,
            "subject": "incident",
            "subject_id": "C",
            "metric": "resolve",
            "priority": "P1",
            "deadline": iso(t + timedelta(hours=3, minutes=30)),
            "breached_at": iso(t + timedelta(hours=3, minutes=30)),
            "goal_seconds": 3600,
            "late_seconds": None,
            "reason": "priority raised to P1: goal already exceeded",
            "paused_seconds": 1800.0,
            "pauses": [{"reason": "maintenance window", "seconds": 1800.0}],
        },
    ]
    still_paused = (as_of - (t + timedelta(days=1, seconds=600))).total_seconds()
    assert sla["paused_by_reason"] == [
        {"reason": "awaiting customer: logs", "seconds": 3600.0 + still_paused, "count": 2},
        {"reason": "maintenance window", "seconds": 1800.0, "count": 1},
    ]
    assert sla["rows"] == [
        {
            "metric": "acknowledge",
            "priority": "P1",
            "subject": "alert",
            "met": 0,
            "breached": 1,
            "open": 0,
            "compliance_pct": 0.0,
            "goal_seconds": 900,
        },
        {
            "metric": "notify",
            "priority": "P2",
            "subject": "incident",
            "met": 0,
            "breached": 0,
            "open": 1,
            "compliance_pct": None,
            "goal_seconds": 1800,
        },
        {
            "metric": "resolve",
            "priority": "P1",
            "subject": "incident",
            "met": 0,
            "breached": 1,
            "open": 0,
            "compliance_pct": 0.0,
            "goal_seconds": 3600,
        },
    ]


# ---- trends, health, empty month ---------------------------------------------------------------------------------


def test_trends_cover_six_months_and_compare_with_the_previous_one(acme):
    with schema_context("acme"):
        # given: 3 alerts in August, 4 in September, 5 in October (2 of the 4 classified are false positives);
        # 2 incidents (one P1) in September, 1 P3 in October; SLA 1 met + 1 breached in September, 2 met in October
        version_in_past(valid_from=jst(2026, 1, 1), terms={"timezone": "Asia/Tokyo"})
        rows = [alert_build(received_at=jst(2026, 8, 10 + i)) for i in range(3)]
        rows += [alert_build(received_at=jst(2026, 9, 10 + i)) for i in range(4)]
        rows += [
            alert_build(
                received_at=jst(2026, 10, 10 + i), classification=("false_positive", "true_positive", "")[i % 3]
            )
            for i in range(5)
        ]
        alerts_create(rows)
        incident_create(created_at=jst(2026, 9, 3), priority="P1")
        incident_create(created_at=jst(2026, 9, 4), priority="P3")
        incident_create(created_at=jst(2026, 10, 4), priority="P3")

        def timer(start, seconds):
            return TimerSpec(
                subject_type="alert",
                subject_id=f"t{start:%m%d}-{seconds}",
                metric="acknowledge",
                priority="P3",
                goal_seconds=900,
                started_at=start,
                met_at=start + timedelta(seconds=seconds),
            )

        timers_create(
            [
                timer(jst(2026, 9, 5), 300),
                timer(jst(2026, 9, 6), 1000),
                timer(jst(2026, 10, 5), 300),
                timer(jst(2026, 10, 6), 400),
            ]
        )
        # when
        trends = monthly_metrics(month=OCTOBER, as_of=AS_OF)["trends"]
        september = month_trend_point(month=date(2026, 9, 15), as_of=AS_OF)
    # then
    empty = {"alerts": 0, "incidents": 0, "critical_incidents": 0, "sla_compliance_pct": None}
    assert trends["months"] == [
        {"month": "2026-05", **empty, "false_positive_rate": None},
        {"month": "2026-06", **empty, "false_positive_rate": None},
        {"month": "2026-07", **empty, "false_positive_rate": None},
        {"month": "2026-08", **empty, "alerts": 3, "false_positive_rate": None},
        {
            "month": "2026-09",
            "alerts": 4,
            "incidents": 2,
            "critical_incidents": 1,
            "sla_compliance_pct": 50.0,
            "false_positive_rate": None,
        },
        {
            "month": "2026-10",
            "alerts": 5,
            "incidents": 1,
            "critical_incidents": 0,
            "sla_compliance_pct": 100.0,
            "false_positive_rate": 50.0,
        },
    ]
    assert trends["mom"] == {"alerts_pct": 25.0, "incidents_pct": -50.0, "sla_points": 50.0}
    assert september == trends["months"][4]


def test_health_names_every_reason_that_puts_the_customer_at_risk(acme):
    with schema_context("acme"):
        # given: a breach, a silent source, an open P1 incident and an unreachable escalation
        t = jst(2026, 10, 8, 9)
        timer_create(
            subject_type="alert",
            subject_id="x",
            metric="acknowledge",
            priority="P1",
            goal_seconds=60,
            started_at=t,
            met_at=t + timedelta(seconds=120),
        )
        LogSourceState.objects.create(source_key="wazuh", display_name="Wazuh", last_seen_at=t)
        CoverageDegradation.objects.create(
            source_key="wazuh", display_name="Wazuh", started_at=t, detected_at=t, heartbeat_hours=1, reason="silent"
        )
        incident = incident_create(created_at=t, priority="P1")
        escalation_create(incident=incident, started_at=t, state="unreachable")
        # when
        health = monthly_metrics(month=OCTOBER, as_of=AS_OF)["health"]
    # then
    assert health == {
        "status": "at_risk",
        "reasons": ["sla_breaches", "silent_sources", "open_critical_incidents", "customer_unreachable"],
    }


def test_an_empty_month_gives_zeros_and_nulls(acme):
    with schema_context("acme"):
        # given: nothing in March 2026, before the contract
        # when
        m = monthly_metrics(month=date(2026, 3, 1), as_of=AS_OF)
    # then
    json.dumps(m)  # serialisable as is
    assert m["schema_version"] == 1
    assert m["period"]["timezone"] == "Asia/Tokyo"
    assert m["contract"] == {"versions": []}
    assert m["health"] == {"status": "ok", "reasons": []}
    assert m["funnel"] == {
        "received": 0,
        "occurrences": 0,
        "worked": 0,
        "triaged": 0,
        "in_incidents": 0,
        "incidents": 0,
        "classified": {"true_positive": 0, "benign_true_positive": 0, "false_positive": 0, "duplicate": 0},
        "false_positive_rate": None,
    }
    b = m["breakdowns"]
    assert b["by_severity"] == [{"key": str(s), "count": 0} for s in (6, 5, 4, 3, 2, 1, 0)]
    assert b["by_priority"] == [{"key": p, "count": 0} for p in ("P1", "P2", "P3", "P4")]
    assert b["by_category"] == b["top_rules"] == b["top_hosts"] == b["by_tactic"] == []
    assert b["totals"] == {"categories": 0, "rules": 0, "hosts": 0, "users": 0}
    assert m["coverage"]["scope_counts"]["in_scope"] == m["coverage"]["in_scope_assets"] == 0
    assert m["coverage"]["log_sources"] == m["coverage"]["degraded_periods"] == []
    assert m["incidents"]["created"] == m["incidents"]["open_at_end"] == m["incidents"]["list_total"] == 0
    assert m["incidents"]["list"] == []
    nulls = {"mean": None, "median": None, "p90": None}
    assert m["sla"] == {
        "rows": [],
        "overall": {"met": 0, "breached": 0, "compliance_pct": None},
        "mtt": {metric: {"n": 0, "business": nulls, "wall": nulls} for metric in ("acknowledge", "notify", "resolve")},
        "breaches": [],
        "breaches_total": 0,
        "paused_by_reason": [],
    }
    assert m["escalations"] == {
        "count": 0,
        "acknowledged": 0,
        "unanswered": 0,
        "unreachable": 0,
        "by_level_reached": [],
        "customer_ack_seconds": {"n": 0, **nulls},
        "deliveries": {"sent": 0, "failed": 0, "cancelled": 0, "by_channel": []},
        "list": [],
    }
    assert [p["alerts"] for p in m["trends"]["months"]] == [0] * 6
    assert m["trends"]["mom"] == {"alerts_pct": None, "incidents_pct": None, "sla_points": None}


# ---- cost --------------------------------------------------------------------------------------------------------


def test_the_query_count_does_not_grow_with_the_month(acme):
    with schema_context("acme"):
        # given: a small September and a big October under the same contract
        version_in_past(
            valid_from=jst(2026, 1, 1),
            entitlements=[
                {"metric": "eps_peak", "limit": "5", "measurement": "peak_24h", "over_limit_policy": "notify_only"}
            ],
        )
        month_data(month=date(2026, 9, 1), alerts=10, incidents=2)
        month_data(month=OCTOBER, alerts=500, incidents=12)
        # when
        with CaptureQueriesContext(connection) as small:
            monthly_metrics(month=date(2026, 9, 1), as_of=AS_OF)
        with CaptureQueriesContext(connection) as big:
            monthly_metrics(month=OCTOBER, as_of=AS_OF)
    # then
    assert len(small.captured_queries) == len(big.captured_queries) < 40
