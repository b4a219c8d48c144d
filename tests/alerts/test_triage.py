"""Analyst triage: every action changes the alert, its history, the audit trail and the SLA clocks."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.alerts import triage
from mdr.alerts.models import Alert
from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.sla.models import SlaTimer
from tests.alerts.test_ingest_api import native
from tests.conftest import login
from tests.factories import UserFactory
from tests.scope.helpers import new_version
from tests.scope.test_classification import ITEMS, ingest_and_process
from tests.sla.test_sla_flow import _policy

ANALYST = Actor(type="provider_staff", name="analyst#7")


@pytest.fixture
def p1_alert(acme):
    with schema_context("acme"):
        new_version(items=ITEMS, terms={"sla_policy_id": _policy().pk})
    now = datetime.now(ZoneInfo("UTC")).isoformat()
    (alert,) = ingest_and_process(acme, [native(1, hosts=["web01"], ips=[], severity="critical", observed_at=now)])
    assert alert.priority == "P1"
    return alert


def _timers(alert) -> dict[str, SlaTimer]:
    return {t.metric: t for t in SlaTimer.objects.filter(subject_id=str(alert.pk)).order_by("started_at")}


def test_acknowledge_meets_the_acknowledge_clock_once(p1_alert):
    with schema_context("acme"):
        at = p1_alert.received_at + timedelta(minutes=5)
        alert = triage.alert_acknowledge(alert=p1_alert, actor=ANALYST, at=at)
        assert alert.status == "acknowledged" and alert.acknowledged_at == at
        timers = _timers(alert)
        assert timers["acknowledge"].state == "met" and timers["acknowledge"].breached_at is None
        assert timers["resolve"].state == "running"
        # again: nothing changes
        triage.alert_acknowledge(alert=alert, actor=ANALYST, at=at + timedelta(minutes=1))
        assert alert.activity.filter(kind="acknowledge").count() == 1
        assert AuditEvent.objects.filter(action="alert.acknowledge", actor="analyst#7").count() == 1


def test_a_late_acknowledgement_is_met_late_with_its_breach(p1_alert):
    with schema_context("acme"):
        triage.alert_acknowledge(alert=p1_alert, actor=ANALYST, at=p1_alert.received_at + timedelta(minutes=20))
        ack = _timers(p1_alert)["acknowledge"]
        assert ack.state == "met" and ack.breached_at == p1_alert.received_at + timedelta(minutes=15)


def test_classify_closes_and_meets_the_resolve_clock_and_reopen_starts_a_new_cycle(p1_alert):
    with schema_context("acme"):
        with pytest.raises(triage.TriageError) as err:
            triage.alert_classify(alert=p1_alert, classification="false_positive", actor=ANALYST)
        assert err.value.field == "reason"
        at = p1_alert.received_at + timedelta(hours=1)
        alert = triage.alert_classify(
            alert=p1_alert, classification="false_positive", reason="admin script", actor=ANALYST, at=at
        )
        assert (alert.status, alert.classification, alert.closed_at) == ("closed", "false_positive", at)
        assert {m: t.state for m, t in _timers(alert).items()} == {"acknowledge": "met", "resolve": "met"}
        alert = triage.alert_reopen(alert=alert, reason="it came back", actor=ANALYST, at=at + timedelta(hours=1))
        assert alert.status == "acknowledged"
        resolve = SlaTimer.objects.filter(subject_id=str(alert.pk), metric="resolve").order_by("-started_at")
        assert [t.state for t in resolve] == ["running", "met"]
        assert resolve[0].goal_seconds == resolve[1].goal_seconds
        assert list(alert.activity.values_list("kind", flat=True)) == ["acknowledge", "classify", "reopen"]


def test_assign_and_comment(p1_alert):
    with schema_context("acme"):
        alert = triage.alert_assign(alert=p1_alert, assignee="analyst#7", actor=ANALYST)
        assert (alert.status, alert.assignee) == ("in_progress", "analyst#7")
        assert _timers(alert)["acknowledge"].state == "met"
        with pytest.raises(triage.TriageError):
            triage.alert_comment(alert=alert, text="  ", actor=ANALYST)
        triage.alert_comment(alert=alert, text="looking at the process tree", actor=ANALYST)
        assert alert.activity.get(kind="comment").data["text"] == "looking at the process tree"


def test_triage_over_the_provider_api(p1_alert):
    UserFactory(username="an7", role=Role.ANALYST)
    UserFactory(username="am7", role=Role.ACCOUNT_MANAGER)
    analyst, manager = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN), Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(analyst, "an7", "correct horse battery staple")
    login(manager, "am7", "correct horse battery staple")
    base = f"/api/provider/customers/acme/alerts/{p1_alert.pk}"
    assert manager.post(f"{base}/acknowledge").status_code == 403
    ack = analyst.post(f"{base}/acknowledge")
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    bad = analyst.post(f"{base}/classify", {"classification": "maybe"}, content_type="application/json")
    assert bad.status_code == 400 and "classification" in bad.json()
    done = analyst.post(f"{base}/classify", {"classification": "true_positive"}, content_type="application/json")
    assert done.json()["status"] == "closed"
    assert analyst.post(f"{base}/explode").status_code == 404
    assert analyst.post("/api/provider/customers/globex/alerts/" + str(p1_alert.pk) + "/acknowledge").status_code == 404
    with schema_context("acme"):
        assert Alert.objects.get(pk=p1_alert.pk).classification == "true_positive"
        # the customer sees who at the provider acted on its alert
        assert AuditEvent.objects.filter(action="alert.classify", actor__startswith="an7").exists()
