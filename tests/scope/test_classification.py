"""Every alert classified against the contract version in force, through the real ingest and pipeline."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.test import override_settings
from django_tenants.utils import schema_context

from mdr.alerts.models import Alert
from mdr.alerts.services import alert_batch_process
from mdr.audit.models import AuditEvent
from mdr.jobs.models import DueWork, Outbox
from mdr.scope import services
from mdr.scope.models import CoverageDegradation, LogSourceState, UnknownAsset
from tests.alerts.test_ingest_api import native, post
from tests.scope.helpers import ACTOR, backdated_version, new_version

ITEMS = [
    {"kind": "host", "value": "web01", "criticality": "critical", "remediation_allowed": "yes"},
    {"kind": "network", "value": "10.0.0.0/8", "criticality": "medium"},
    {"kind": "host", "value": "lab-*", "included": "no", "label": "lab machines"},
    {"kind": "cloud_account", "value": "123456789012", "provider": "aws", "criticality": "high"},
    {"kind": "log_source", "value": "Custom", "heartbeat_hours": "24"},
    {"kind": "log_source", "value": "Suricata"},
]


def ingest_and_process(tenant, items) -> list[Alert]:
    body = post(tenant, items).json()
    assert body["rejected"] == [], body["rejected"]
    ids = [a["id"] for a in body["alerts"]]
    with schema_context(tenant.schema):
        outbox = Outbox.objects.get(payload__alert_ids=[a["id"] for a in body["alerts"] if a["status"] == "created"])
        assert alert_batch_process(outbox_id=outbox.pk) == "done"
        by_id = {str(a.pk): a for a in Alert.objects.filter(pk__in=ids)}
    return [by_id[i] for i in ids]


def test_alerts_are_classified_with_reasons_and_priority(acme):
    with schema_context("acme"):
        new_version(items=ITEMS)
        services.assets_import(actor=ACTOR, rows=[{"hostname": "printer-7", "ips": "192.168.9.9"}])
    now = datetime.now(ZoneInfo("UTC")).isoformat()
    alerts = ingest_and_process(
        acme,
        [
            native(1, hosts=["WEB01.corp.example"], ips=[], severity="high", observed_at=now),
            native(2, hosts=["lab-3"], ips=["10.1.2.3"], observed_at=now),
            native(3, hosts=[], ips=["10.9.9.9"], severity="critical", observed_at=now),
            native(4, hosts=["printer-7"], ips=[], observed_at=now),
            native(5, hosts=["stranger"], ips=["203.0.113.5"], observed_at=now),
            native(6, hosts=[], ips=[], cloud={"provider": "aws", "account": "123456789012"}, observed_at=now),
            native(7, hosts=["web01"], source={"product": "Zeek", "vendor": "Corelight"}, observed_at=now),
        ],
    )
    got = [(a.scope_status, a.criticality, a.priority) for a in alerts]
    assert got == [
        ("in_scope", "critical", "P1"),
        ("excluded", "", "P4"),
        ("in_scope", "medium", "P1"),
        ("out_of_scope", "", "P4"),
        ("unknown_asset", "", "P2"),
        ("in_scope", "high", "P2"),
        ("unsupported_source", "", "P4"),
    ]
    assert "lab machines" in alerts[1].scope_reason
    assert "printer-7" in alerts[3].scope_reason
    assert alerts[0].remediation_allowed is True
    assert all(a.contract_version_id and a.processed_at for a in alerts)


def test_outside_coverage_hours_is_still_in_scope(acme):
    today = datetime.now(ZoneInfo("Asia/Tokyo"))
    with schema_context("acme"):
        coverage = {
            "timezone": "Asia/Tokyo",
            "weekly_hours": {str(d): [["09:00", "18:00"]] for d in range(5)},
            "holidays": ["JP"],
        }
        backdated_version(items=ITEMS, terms={"coverage": coverage}, valid_from=today - timedelta(days=30))
    # a Saturday night and a Wednesday morning in Tokyo, both recent
    saturday = (today - timedelta(days=(today.weekday() - 5) % 7 or 7)).replace(hour=22, minute=0)
    wednesday = (today - timedelta(days=(today.weekday() - 2) % 7 or 7)).replace(hour=10, minute=0)
    alerts = ingest_and_process(
        acme,
        [
            native(1, hosts=["web01"], observed_at=saturday.isoformat()),
            native(2, hosts=["web01"], observed_at=wednesday.isoformat()),
        ],
    )
    assert [(a.scope_status, a.in_coverage) for a in alerts] == [("in_scope", False), ("in_scope", True)]


def test_alert_is_judged_by_the_version_in_force_at_its_time(acme):
    # given: version 2 (web01 excluded) starts next year; the alert happened now
    with schema_context("acme"):
        new_version(items=ITEMS)
        new_version(
            items=[{"kind": "host", "value": "web01", "included": "no"}],
            effective=datetime.now(ZoneInfo("Asia/Tokyo")).date().replace(year=2027 + 1),
        )
    alerts = ingest_and_process(
        acme, [native(1, hosts=["web01"], observed_at=datetime.now(ZoneInfo("UTC")).isoformat())]
    )
    assert alerts[0].scope_status == "in_scope"


@override_settings(MDR_DRIFT_THRESHOLD=3)
def test_unknown_assets_that_keep_appearing_become_drift(acme):
    with schema_context("acme"):
        new_version(items=ITEMS)
    now = datetime.now(ZoneInfo("UTC"))
    # (all after the version took effect: earlier alerts are judged by the version before it)
    times = [(now + timedelta(seconds=i)).isoformat() for i in range(2)]
    ingest_and_process(acme, [native(i, hosts=["ghost-01"], ips=[], observed_at=t) for i, t in enumerate(times)])
    with schema_context("acme"):
        assert UnknownAsset.objects.get(identifier="ghost-01").status == "watching"
    ingest_and_process(acme, [native(10, hosts=["ghost-01"], ips=[], observed_at=now.isoformat())])
    with schema_context("acme"):
        ghost = UnknownAsset.objects.get(identifier="ghost-01")
        assert (ghost.status, ghost.occurrences) == ("open", 3)
        # importing it into the inventory resolves the drift
        services.assets_import(actor=ACTOR, rows=[{"hostname": "ghost-01"}])
        assert UnknownAsset.objects.get(identifier="ghost-01").status == "resolved"


def _entitlement(policy: str) -> list[dict]:
    return [
        {
            "metric": "endpoints",
            "limit": "2",
            "tolerance_pct": "0",
            "measurement": "unique_in_month",
            "over_limit_policy": policy,
        }
    ]


def _over_limit_run(acme, policy):
    with schema_context("acme"):
        new_version(items=ITEMS, entitlements=_entitlement(policy))
    now = datetime.now(ZoneInfo("UTC")).isoformat()
    return ingest_and_process(
        acme, [native(i, hosts=[f"web01-{i}.corp"], ips=["10.0.0.1"], observed_at=now) for i in range(3)]
    )


def test_over_limit_notify_only_is_over_quota(acme):
    alerts = _over_limit_run(acme, "notify_only")
    # the third distinct host of the month is beyond the limit of 2 (which one is third is up to the batch)
    assert sorted(a.scope_status for a in alerts) == ["in_scope", "in_scope", "over_quota"]
    over = next(a for a in alerts if a.scope_status == "over_quota")
    assert "beyond the endpoints entitlement" in over.scope_reason
    # a later batch: hosts already counted stay within, the over-limit one stays over, a new one is over too
    now = datetime.now(ZoneInfo("UTC")).isoformat()
    later = ingest_and_process(
        acme,
        [
            native(10 + i, hosts=[h], ips=["10.0.0.1"], observed_at=now)
            for i, h in enumerate([*(a.hosts[0] for a in alerts), "web01-new.corp"])
        ],
    )
    by_host = {a.hosts[0]: a.scope_status for a in later}
    assert by_host["web01-new.corp"] == "over_quota"
    assert sorted(by_host[a.hosts[0]] for a in alerts) == ["in_scope", "in_scope", "over_quota"]
    assert by_host[over.hosts[0]] == "over_quota"


def test_over_limit_restrict_actions_stays_in_scope_without_remediation(acme):
    alerts = _over_limit_run(acme, "restrict_actions")
    assert [a.scope_status for a in alerts] == ["in_scope"] * 3
    over = [a for a in alerts if "over entitlement" in a.scope_reason]
    assert len(over) == 1 and over[0].remediation_allowed is False


def test_over_limit_process_and_report_is_reported_in_usage(acme):
    from mdr.scope.selectors import contract_overview

    alerts = _over_limit_run(acme, "process_and_report")
    assert [a.scope_status for a in alerts] == ["in_scope"] * 3
    assert sum("process_and_report" in a.scope_reason for a in alerts) == 1
    with schema_context("acme"):
        usage = contract_overview(at=datetime.now(ZoneInfo("UTC"))).usage
    assert [(u.metric, int(u.used), u.over) for u in usage] == [("endpoints", 3, True)]


def test_silent_log_source_opens_and_closes_a_degradation(acme):
    with schema_context("acme"):
        new_version(items=ITEMS)
    now = datetime.now(ZoneInfo("UTC"))
    ingest_and_process(acme, [native(1, hosts=["web01"], observed_at=now.isoformat())])
    with schema_context("acme"):
        due = DueWork.objects.get(schema_name="acme", kind="scope_logsource_check", ref="custom")
        state = LogSourceState.objects.get(source_key="custom")
        assert due.due_at == state.last_seen_at + timedelta(hours=24)
        # not silent yet: nothing opens
        assert services.logsource_check_silence(source_key="custom") is None
        # 25 hours of silence
        LogSourceState.objects.filter(pk=state.pk).update(last_seen_at=now - timedelta(hours=25))
        degradation = services.logsource_check_silence(source_key="custom")
        assert degradation is not None and degradation.ended_at is None
        assert services.logsource_check_silence(source_key="custom") == degradation  # idempotent
        assert AuditEvent.objects.filter(action="coverage.degraded").count() == 1
    # the source speaks again: the degradation closes
    ingest_and_process(acme, [native(2, hosts=["web01"], observed_at=now.isoformat())])
    with schema_context("acme"):
        degradation.refresh_from_db()
        assert degradation.ended_at is not None
        assert not CoverageDegradation.objects.filter(ended_at__isnull=True).exists()


def test_reclassification_after_an_inventory_change_is_explicit_and_audited(acme):
    with schema_context("acme"):
        new_version(items=ITEMS)
    alerts = ingest_and_process(
        acme, [native(1, hosts=["stranger"], ips=[], observed_at=datetime.now(ZoneInfo("UTC")).isoformat())]
    )
    assert alerts[0].scope_status == "unknown_asset"
    with schema_context("acme"):
        # given: the customer's CMDB now knows the machine (but the contract does not cover it)
        services.assets_import(actor=ACTOR, rows=[{"hostname": "stranger"}])
        # then: nothing already classified changes by itself ...
        assert Alert.objects.get(pk=alerts[0].pk).scope_status == "unknown_asset"
        # ... until the explicit, audited action
        assert services.alerts_reclassify(actor=ACTOR) == 1
        alert = Alert.objects.get(pk=alerts[0].pk)
        assert alert.scope_status == "out_of_scope"
        assert "stranger" in alert.scope_reason
        event = AuditEvent.objects.get(action="alerts.reclassify")
        assert event.data["alerts"] == 1


def test_coverage_hours_boundaries(acme):
    # given: coverage 09:00-18:00 Tokyo on weekdays, in force for a month
    tokyo = ZoneInfo("Asia/Tokyo")
    today = datetime.now(tokyo)
    with schema_context("acme"):
        coverage = {"timezone": "Asia/Tokyo", "weekly_hours": {str(d): [["09:00", "18:00"]] for d in range(7)}}
        backdated_version(items=ITEMS, terms={"coverage": coverage}, valid_from=today - timedelta(days=30))
    day = (today - timedelta(days=2)).date()
    times = [
        datetime(day.year, day.month, day.day, h, m, s, tzinfo=tokyo)
        for h, m, s in [(8, 59, 59), (9, 0, 0), (17, 59, 59), (18, 0, 0)]
    ]
    # when
    alerts = ingest_and_process(
        acme, [native(i, hosts=["web01"], observed_at=t.isoformat()) for i, t in enumerate(times)]
    )
    # then: the window is [09:00, 18:00)
    assert [a.in_coverage for a in alerts] == [False, True, True, False]
    assert {a.scope_status for a in alerts} == {"in_scope"}


def test_the_sweep_hands_due_silence_checks_to_the_worker_once(acme):
    import dramatiq

    from mdr.jobs.services import due_work_schedule, due_work_sweep

    broker = dramatiq.get_broker()
    broker.flush("default")
    past = datetime.now(ZoneInfo("UTC")) - timedelta(minutes=1)
    with schema_context("acme"):
        due_work_schedule(kind="scope_logsource_check", ref="custom", due_at=past)
        due_work_schedule(kind="scope_logsource_check", ref="later", due_at=past + timedelta(hours=2))
    assert due_work_sweep() == 1
    assert broker.do_qsize("default") == 1  # one fan-out message
    assert due_work_sweep() == 0  # idempotent: the fired row is gone, the future one waits
    checks = DueWork.objects.filter(schema_name="acme", kind="scope_logsource_check")  # (reports have their own row)
    assert list(checks.values_list("ref", flat=True)) == ["later"]
    # the fan-out sends acme's handler its refs, stamped with acme
    from mdr.jobs.services import due_work_dispatch

    broker.flush("default")
    assert due_work_dispatch(items=[["acme", "scope_logsource_check", "custom"]]) == 1
    assert broker.do_qsize("default") == 1
    broker.flush("default")
