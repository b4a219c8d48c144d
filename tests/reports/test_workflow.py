"""The monthly report workflow through the real services: idempotent drafts, versions with reasons, publication
rendered into an immutable PDF whose figures equal the raw rows, the recipients told by a real SMTP server with a
portal link (never the file), authorised downloads only, and the schedule through the due-work index."""

import email
import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.test import Client
from django_tenants.utils import schema_context
from pypdf import PdfReader

from mdr.accounts.models import Role
from mdr.alerts.models import Alert
from mdr.audit.models import AuditEvent
from mdr.audit.services import Actor
from mdr.incidents.models import Incident
from mdr.jobs.models import DueWork
from reports import services
from reports.models import MonthlyReport, ReportFile
from tests.conftest import login
from tests.factories import UserFactory

ACTOR = Actor(type="provider_staff", name="am#1")
TOKYO = ZoneInfo("Asia/Tokyo")
OCTOBER = date(2026, 10, 1)


def _alert(n: int, received_at: datetime, **fields) -> Alert:
    values = dict(
        dedup_key=f"wf-{n}",
        source_format="suricata",
        source_product="Suricata",
        title=f"ET SCAN {n}",
        severity_id=4,
        observed_at=received_at,
        received_at=received_at,
        raw={},
        first_seen_at=received_at,
        last_seen_at=received_at,
        scope_status="in_scope",
        priority="P2",
        category="network",
    )
    return Alert(**(values | fields))


def _october_rows() -> tuple[int, int]:
    """Alerts and incidents around October in Tokyo; returns the October counts computed from the rows."""
    times = [
        datetime(2026, 9, 30, 14, 59, tzinfo=UTC),  # 23:59 JST Sep 30: September
        datetime(2026, 9, 30, 15, 0, tzinfo=UTC),  # 00:00 JST Oct 1: October
        datetime(2026, 10, 15, 3, 0, tzinfo=UTC),
        datetime(2026, 10, 31, 14, 59, tzinfo=UTC),  # 23:59 JST Oct 31: October
        datetime(2026, 10, 31, 15, 30, tzinfo=UTC),  # 00:30 JST Nov 1: November
    ]
    Alert.objects.bulk_create([_alert(i, t) for i, t in enumerate(times)])
    for i, t in enumerate((times[1], times[2], times[4])):
        incident = Incident.objects.create(title=f"Scan burst {i}", severity_id=4, priority="P2")
        Incident.objects.filter(pk=incident.pk).update(created_at=t)
    start = datetime(2026, 10, 1, tzinfo=TOKYO)
    end = datetime(2026, 11, 1, tzinfo=TOKYO)
    alerts = sum(1 for t in times if start <= t < end)
    incidents = Incident.objects.filter(created_at__gte=start, created_at__lt=end).count()
    return alerts, incidents


def test_generation_is_idempotent_and_a_reason_makes_a_new_version(acme):
    with schema_context("acme"):
        first, created = services.report_generate_monthly(month=OCTOBER, actor=ACTOR, language="en")
        again, created_again = services.report_generate_monthly(month=OCTOBER, actor=ACTOR, language="en")
        assert created and not created_again and again.pk == first.pk
        assert MonthlyReport.objects.count() == 1
        assert first.period_start == datetime(2026, 10, 1, tzinfo=TOKYO)
        assert first.period_end == datetime(2026, 11, 1, tzinfo=TOKYO)
        with pytest.raises(services.ReportError) as err:
            services.report_generate_monthly(month=date(2099, 1, 1), actor=ACTOR)
        assert err.value.field == "month"


def _publish(report: MonthlyReport) -> MonthlyReport:
    services.report_publish_request(report=report, actor=ACTOR)
    assert services.report_publish(report_id=report.pk) == "published"
    assert services.report_publish(report_id=report.pk) == "skipped"  # a doubled message renders nothing
    report.refresh_from_db()
    return report


def test_published_figures_equal_the_raw_rows_and_the_report_is_immutable(acme):
    with schema_context("acme"):
        alerts, incidents = _october_rows()
        report, _ = services.report_generate_monthly(month=OCTOBER, actor=ACTOR, language="en")
        services.report_update_draft(
            report=report, actor=ACTOR, recommendations=["Tune rule ET SCAN for the VPN range"], customer_actions=[]
        )
        report = _publish(report)
        stored = bytes(ReportFile.objects.get(report=report).pdf)
        assert report.pdf_sha256 == hashlib.sha256(stored).hexdigest() and report.pdf_size == len(stored)
        # the attached metrics are the figures in the report, and they equal the rows
        reader = PdfReader(io.BytesIO(stored))
        attached = json.loads(reader.attachments["metrics.json"][0])
        assert attached["funnel"]["received"] == alerts == 3
        assert attached["incidents"]["created"] == incidents == 2
        alerts_csv = reader.attachments["alerts.csv"][0].decode().strip().splitlines()
        assert len(alerts_csv) == 1 + alerts
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert "Tune rule ET SCAN for the VPN range" in text
        # immutable: the database refuses any change, whatever the code path
        with pytest.raises(DatabaseError), transaction.atomic():
            MonthlyReport.objects.filter(pk=report.pk).update(recommendations=["rewritten"])
        with pytest.raises(DatabaseError), transaction.atomic():
            ReportFile.objects.filter(report=report).update(pdf=b"%PDF-forged")
        with pytest.raises(services.ReportError):
            services.report_update_draft(report=report, actor=ACTOR, recommendations=["late"])
        # a regeneration without a reason returns the published report; with one, a new draft version
        same, created = services.report_generate_monthly(month=OCTOBER, actor=ACTOR, language="en")
        assert same.pk == report.pk and not created
        v2, created = services.report_generate_monthly(
            month=OCTOBER, actor=ACTOR, language="en", reason="late Wazuh alerts re-sent by the customer"
        )
        assert created and v2.version == 2 and v2.reason.startswith("late Wazuh")
        assert MonthlyReport.objects.get(pk=report.pk).state == "published"


def test_publishing_mails_a_portal_link_not_the_file(acme, mail_server):
    from tests.scope.helpers import new_version

    with schema_context("acme"):
        new_version()  # no recipients in its terms
        report, _ = services.report_generate_monthly(month=OCTOBER, actor=ACTOR, language="ja")
        report = _publish(report)
        # the version in force has no recipients: nobody is mailed
        assert services.report_notify(report_id=report.pk) == 0
        new_version(terms={"report_recipients": ["ciso@acme.example", "soc@acme.example"]})
        assert services.report_notify(report_id=report.pk) == 2
    ((rcpt, raw),) = mail_server.messages
    message = email.message_from_bytes(raw, policy=policy.default)
    assert sorted(rcpt) == ["ciso@acme.example", "soc@acme.example"]
    assert "月次レポート" in str(message["Subject"])
    body = message.get_body(("plain",)).get_content()
    assert f"http://acme.mdr.test:8000/reports/{report.pk}" in body and report.pdf_sha256 in body
    assert not any(part.get_content_type() == "application/pdf" for part in message.walk())


def test_customers_download_only_their_own_published_reports(acme, globex):
    with schema_context("acme"):
        draft, _ = services.report_generate_monthly(month=date(2026, 9, 1), actor=ACTOR, language="en")
        report, _ = services.report_generate_monthly(month=OCTOBER, actor=ACTOR, language="en")
        report = _publish(report)
        UserFactory(username="acme-viewer", role=Role.VIEWER)
    with schema_context("globex"):
        UserFactory(username="globex-reader", role=Role.CUSTOMER_ADMIN)
    viewer = acme.client()
    login(viewer, "acme-viewer", "correct horse battery staple")
    listing = viewer.get("/reports/")
    assert listing.status_code == 200 and str(report.pk) in listing.content.decode()
    assert str(draft.pk) not in listing.content.decode()  # drafts are the provider's
    pdf = viewer.get(f"/reports/{report.pk}")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == report.pdf_sha256
    assert viewer.get(f"/reports/{draft.pk}").status_code == 404
    key = acme.client().get(f"/api/v1/reports/{report.pk}/pdf", HTTP_AUTHORIZATION=f"Bearer {_read_key(acme)}")
    assert key.status_code == 200
    # another customer: the same id is unknown in its schema, whatever the route
    other = globex.client()
    login(other, "globex-reader", "correct horse battery staple")
    assert other.get(f"/reports/{report.pk}").status_code == 404
    assert other.get(f"/api/v1/reports/{report.pk}/pdf").status_code == 404
    assert report.pdf_sha256 not in other.get("/reports/").content.decode()
    # acme's key on globex's domain is refused outright
    assert globex.client().get(
        f"/api/v1/reports/{report.pk}/pdf", HTTP_AUTHORIZATION=f"Bearer {_read_key(acme)}"
    ).status_code in (403, 404)
    with schema_context("acme"):
        downloads = AuditEvent.objects.filter(action="report.download").count()
        assert downloads == 2


def _read_key(tenant) -> str:
    from mdr.accounts.services import apikey_create
    from tenants.models import Customer

    return apikey_create(
        actor=Actor.system("tests"), customer=Customer.objects.get(slug=tenant.slug), name="reader", scopes=["read"]
    ).plaintext


def test_provider_api_generates_edits_previews_and_publishes(acme):
    UserFactory(username="am2", role=Role.ACCOUNT_MANAGER)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "am2", "correct horse battery staple")
    base = "/api/provider/customers/acme/reports"
    bad = client.post(base, {"month": "2026-13"}, content_type="application/json")
    assert bad.status_code == 400 and "month" in bad.json()
    created = client.post(base, {"month": "2026-10", "language": "ja"}, content_type="application/json")
    assert created.status_code == 201, created.content
    report_id = created.json()["id"]
    assert client.post(base, {"month": "2026-10", "language": "ja"}, content_type="application/json").status_code == 200
    edited = client.patch(
        f"{base}/{report_id}",
        {"recommendations": ["EDR を全サーバーに展開してください"]},
        content_type="application/json",
    )
    assert edited.status_code == 200 and edited.json()["recommendations"] == ["EDR を全サーバーに展開してください"]
    too_long = client.patch(f"{base}/{report_id}", {"recommendations": ["x" * 2001]}, content_type="application/json")
    assert too_long.status_code == 400 and "recommendations" in too_long.json()
    preview = client.get(f"{base}/{report_id}/pdf")
    assert preview.status_code == 200 and preview.content.startswith(b"%PDF")
    publish = client.post(f"{base}/{report_id}/publish")
    assert publish.status_code == 202 and publish.json()["state"] == "publishing"
    assert (
        client.patch(f"{base}/{report_id}", {"recommendations": []}, content_type="application/json").status_code == 400
    )


def test_the_schedule_makes_the_previous_months_draft_at_six_on_the_first(acme):
    with schema_context("acme"):
        # onboarding scheduled the first run: the next 1st at 06:00 in the customer's time zone
        due = DueWork.objects.get(schema_name="acme", kind="report_generate_task")
        local = due.due_at.astimezone(TOKYO)
        assert (local.day, local.hour, local.minute) == (1, 6, 0)
        assert services.report_next_due(after=datetime(2026, 12, 1, 5, 59, tzinfo=TOKYO), tz="Asia/Tokyo") == datetime(
            2026, 12, 1, 6, 0, tzinfo=TOKYO
        )
        # when: the due work runs at 2026-12-01 06:00 JST
        report = services.report_generate_due(now=datetime(2026, 12, 1, 6, 0, tzinfo=TOKYO))
        assert report.month == date(2026, 11, 1) and report.state == "draft"
        # then: a second run (a redelivered message) makes nothing new, and the next run is on Jan 1st
        assert services.report_generate_due(now=datetime(2026, 12, 1, 6, 1, tzinfo=TOKYO)).pk == report.pk
        assert MonthlyReport.objects.count() == 1
        due = DueWork.objects.get(schema_name="acme", kind="report_generate_task")
        assert due.due_at == datetime(2027, 1, 1, 6, 0, tzinfo=TOKYO)


def test_generate_reports_command_for_every_customer_with_json_lines(acme, globex):
    out = io.StringIO()
    call_command("generate_reports", "--month", "2026-10", "--json", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {line["customer"] for line in lines} >= {"acme", "globex"}
    assert all(line["created"] for line in lines if line["customer"] in ("acme", "globex"))
    out = io.StringIO()
    call_command("generate_reports", "--month", "2026-10", "--customer", "acme", "--json", stdout=out)
    (line,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert line["created"] is False  # idempotent


def test_account_manager_sla_report_page_csv_and_pdf(acme, globex):
    import csv

    from mdr.sla.calendar import BusinessCalendar
    from mdr.sla.services import timer_start, timer_stop

    with schema_context("acme"):
        t0 = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)
        met = timer_start(
            subject_type="alert",
            subject_id="a1",
            metric="acknowledge",
            priority="P1",
            goal_seconds=900,
            calendar=BusinessCalendar.always(timezone="UTC"),
            at=t0,
        )
        timer_stop(timer=met, at=t0 + timedelta(minutes=5))
        late = timer_start(
            subject_type="alert",
            subject_id="a2",
            metric="acknowledge",
            priority="P1",
            goal_seconds=900,
            calendar=BusinessCalendar.always(timezone="UTC"),
            at=t0,
        )
        timer_stop(timer=late, at=t0 + timedelta(minutes=30))  # a late stop records the breach
    UserFactory(username="am3", role=Role.ACCOUNT_MANAGER)
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, "am3", "correct horse battery staple")
    page = client.get("/reports/sla?period=2026-10")
    assert page.status_code == 200 and "Acme Corp" in page.content.decode() and "Globex" in page.content.decode()
    rows = list(csv.DictReader(io.StringIO(client.get("/reports/sla?period=2026-10&format=csv").content.decode())))
    acme_rows = [r for r in rows if r["customer"] == "acme"]
    assert [(r["metric"], r["priority"], r["met"], r["breached"], r["compliance_pct"]) for r in acme_rows] == [
        ("acknowledge", "P1", "1", "1", "50.0")
    ]
    assert acme_rows[0]["at_risk"] == "yes" and "P1 breach" in acme_rows[0]["at_risk_reasons"]
    pdf = client.get("/reports/sla?period=2026-Q4&format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/reports/sla?period=2026-Q5").status_code == 400
    with schema_context("acme"):
        assert AuditEvent.objects.filter(action="provider.sla_report.view").exists()  # the customer sees the read
    viewer_client = acme.client()
    assert viewer_client.get("/reports/sla").status_code == 404  # not a page of the customer domain


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_published_pdf_text_shows_the_figures_computed_from_the_rows(acme, language):
    from mdr.sla.models import SlaTimer
    from tests.reports.builders import month_data

    with schema_context("acme"):
        month_data(month=OCTOBER, alerts=137, incidents=5)
        start, end = datetime(2026, 10, 1, tzinfo=TOKYO), datetime(2026, 11, 1, tzinfo=TOKYO)
        # independently of reports.metrics: straight from the rows
        received = Alert.objects.filter(received_at__gte=start, received_at__lt=end).count()
        worked = Alert.objects.filter(
            received_at__gte=start, received_at__lt=end, scope_status__in=["in_scope", "unknown_asset"]
        ).count()
        incidents = Incident.objects.filter(created_at__gte=start, created_at__lt=end).count()
        timers = SlaTimer.objects.filter(started_at__gte=start, started_at__lt=end)
        breached = timers.filter(breached_at__isnull=False).count()
        met = timers.filter(state="met", breached_at__isnull=True).count()
        compliance = f"{met * 100 / (met + breached):.1f}%"
        report, _ = services.report_generate_monthly(month=OCTOBER, actor=ACTOR, language=language)
        report = _publish(report)
        pdf = bytes(ReportFile.objects.get(report=report).pdf)
    lines = [line.strip() for page in PdfReader(io.BytesIO(pdf)).pages for line in page.extract_text().splitlines()]
    from reports.pdf import LABELS

    labels = LABELS[language]
    received_label, worked_label, incidents_label = labels["f_received"], labels["f_worked"], labels["f_incidents"]
    assert received == 137 and any(line.startswith(received_label) and line.endswith(f" {received}") for line in lines)
    assert any(line.startswith(worked_label) and line.endswith(f" {worked}") for line in lines), worked
    assert any(line.startswith(incidents_label) and line.endswith(f" {incidents}") for line in lines), incidents
    assert any(compliance in line for line in lines), compliance
