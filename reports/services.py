"""The monthly report workflow: draft (metrics computed in SQL), review (the analyst's recommendations and the
customer's open actions), publish (rendered in the ``reports`` queue into an immutable PDF/A-3b whose SHA-256 is
kept), and the recipients told by e-mail with a portal link (never the file).

Idempotent throughout: generating a month that has a draft returns that draft; a month that is published gets a
new version only when someone gives a reason. Drafts are made by the scheduler on the 1st of each month at 06:00
in the customer's time zone through the public due-work index (one row per customer, moved forward each month), so
the cost follows the customers that are due, never a loop over all of them.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mdr.audit.services import Actor, audit_record
from mdr.jobs.services import due_work_cancel, due_work_schedule
from reports.models import MonthlyReport, ReportFile, ReportState

log = logging.getLogger(__name__)

GENERATE_ACTOR = "report_generate_task"  # the due-work kind is the actor name
PUBLISH_ACTOR = "report_publish_due_task"
SCHEDULE_REF = "monthly"
LANGUAGES = ("ja", "en")
MAX_ITEMS, MAX_ITEM_CHARS = 30, 2000


class ReportError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def month_parse(value: str) -> date:
    """``2026-10`` -> date(2026, 10, 1); ReportError naming ``month`` otherwise."""
    try:
        year, month = (int(part) for part in str(value).split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise ReportError("month", _("a month as YYYY-MM, e.g. 2026-10")) from None


def _customer():
    from tenants.models import Customer

    return Customer.objects.get(schema_name=connection.schema_name)


def _report_language(at: datetime) -> str:
    """The contract's report language (the version in force at ``at``), else the customer's."""
    from mdr.scope.selectors import version_in_force

    version = version_in_force(at=at)
    if version is not None and version.report_language in LANGUAGES:
        return version.report_language
    customer = _customer()
    return customer.language if customer.language in LANGUAGES else "ja"


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def report_generate_monthly(
    *, month: date, actor: Actor, language: str | None = None, reason: str = "", now: datetime | None = None
) -> tuple[MonthlyReport, bool]:
    """The draft for ``month`` (returns (report, created)). A draft that exists is returned as it is; a published
    month is returned as it is unless ``reason`` asks for a new version. Months that have not started are
    refused."""
    from reports.metrics import month_bounds, monthly_metrics

    now = now or timezone.now()
    month = month.replace(day=1)
    start, end, tz = month_bounds(month=month)
    if start > now:
        raise ReportError("month", f"{month:%Y-%m} has not started yet")
    language = language or _report_language(min(end - timedelta(seconds=1), now))
    if language not in LANGUAGES:
        raise ReportError("language", _("ja or en"))
    with transaction.atomic():
        # One generation per (month, language) at a time: the scheduler and a person may ask together.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"report:{month:%Y-%m}:{language}"])
        versions = MonthlyReport.objects.filter(month=month, language=language)
        draft = versions.filter(state__in=(ReportState.DRAFT, ReportState.PUBLISHING)).first()
        if draft is not None:
            return draft, False
        latest = versions.order_by("-version").first()
        if latest is not None and not reason.strip():
            return latest, False
        report = MonthlyReport.objects.create(
            month=month,
            language=language,
            version=(latest.version + 1) if latest else 1,
            timezone=tz,
            period_start=start,
            period_end=end,
            as_of=now,
            metrics=monthly_metrics(month=month, as_of=now),
            reason=reason.strip()[:2000],
            generated_at=now,
            generated_by=actor.name,
        )
        audit_record(
            actor=actor,
            action="report.generate",
            target_type="report",
            target_id=report.pk,
            data={"month": f"{month:%Y-%m}", "language": language, "version": report.version, "reason": reason[:500]},
        )
    log.info("reports.generate.done", extra={"month": f"{month:%Y-%m}", "version": report.version})
    return report, True


def _texts(field: str, values) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ReportError(field, _("a list of texts"))
    cleaned = [v.strip() for v in values if v.strip()]
    if len(cleaned) > MAX_ITEMS or any(len(v) > MAX_ITEM_CHARS for v in cleaned):
        raise ReportError(
            field,
            _("at most %(max_items)s items of at most %(max_item_chars)s characters")
            % {"max_items": MAX_ITEMS, "max_item_chars": MAX_ITEM_CHARS},
        )
    return cleaned


def _draft(report: MonthlyReport) -> MonthlyReport:
    locked = MonthlyReport.objects.select_for_update().get(pk=report.pk)
    if locked.state != ReportState.DRAFT:
        raise ReportError("state", _("the report is %(state)s: only a draft can change") % {"state": locked.state})
    return locked


def report_update_draft(
    *,
    report: MonthlyReport,
    actor: Actor,
    recommendations: list[str] | None = None,
    customer_actions: list[str] | None = None,
) -> MonthlyReport:
    """The analyst's part: recommendations and the customer's open actions."""
    with transaction.atomic():
        report = _draft(report)
        fields = []
        if recommendations is not None:
            report.recommendations = _texts("recommendations", recommendations)
            fields.append("recommendations")
        if customer_actions is not None:
            report.customer_actions = _texts("customer_actions", customer_actions)
            fields.append("customer_actions")
        if fields:
            report.save(update_fields=fields)
            audit_record(actor=actor, action="report.edit", target_type="report", target_id=report.pk)
    return report


def report_refresh_draft(*, report: MonthlyReport, actor: Actor, now: datetime | None = None) -> MonthlyReport:
    """Compute the draft's figures again (late alerts, corrected classifications)."""
    from reports.metrics import monthly_metrics

    now = now or timezone.now()
    with transaction.atomic():
        report = _draft(report)
        report.metrics, report.as_of = monthly_metrics(month=report.month, as_of=now), now
        report.save(update_fields=["metrics", "as_of"])
        audit_record(actor=actor, action="report.refresh", target_type="report", target_id=report.pk)
    return report


def report_publish_request(*, report: MonthlyReport, actor: Actor) -> MonthlyReport:
    """Freeze the draft for rendering; the ``reports`` queue renders, stores and publishes it."""
    with transaction.atomic():
        report = _draft(report)
        report.state, report.publish_requested_by = ReportState.PUBLISHING, actor.name[:200]
        report.save(update_fields=["state", "publish_requested_by"])
        audit_record(actor=actor, action="report.publish_requested", target_type="report", target_id=report.pk)
        report_id = str(report.pk)
        # The lease: if the message is lost (Redis down, the rendering worker killed), the sweep hands it over again.
        _publish_lease(report_id)
        transaction.on_commit(lambda: _send_publish(report_id))
    return report


def _publish_lease(report_id: str) -> None:
    lease = timezone.now() + timedelta(seconds=settings.MDR_REPORT_PUBLISH_LEASE_SECONDS)
    due_work_schedule(kind=PUBLISH_ACTOR, ref=report_id, due_at=lease)


def _send_publish(report_id: str) -> None:
    from reports.tasks import report_publish_task

    try:
        report_publish_task.send(report_id)
    except Exception as exc:  # Redis down: the lease in the due-work index sends it later
        log.warning("reports.publish.enqueue_failed", extra={"report": report_id, "error": str(exc)[:200]})


def _pdf(report: MonthlyReport, *, draft: bool) -> bytes:
    from reports.exports import alerts_csv, incidents_csv
    from reports.pdf import render_report_pdf

    return render_report_pdf(
        metrics=report.metrics,
        language=report.language,
        customer_name=_customer().name,
        recommendations=report.recommendations,
        customer_actions=report.customer_actions,
        alerts_csv=alerts_csv(start=report.period_start, end=report.period_end),
        incidents_csv=incidents_csv(start=report.period_start, end=report.period_end),
        version=report.version,
        draft=draft,
    )


def report_preview_pdf(*, report: MonthlyReport) -> bytes:
    """A draft's PDF with the DRAFT mark, for review (not stored)."""
    return _pdf(report, draft=report.state != ReportState.PUBLISHED)


def report_publish(*, report_id, now: datetime | None = None) -> str:
    """Render, store and publish a report whose publication was requested (the ``reports`` actor). Idempotent: a
    report no longer ``publishing`` is left alone.

    Two transactions, as for escalation deliveries. The first (committed at once) arms the lease in the due-work
    index: if this process dies while rendering, its transaction dies with it (no file, still ``publishing``) and
    the sweep hands the report over again when the lease runs out. The second holds the row lock across the render,
    so a doubled message finds it locked, keeps the lease armed and leaves it to the renderer."""
    now = now or timezone.now()
    report_id = str(report_id)
    with transaction.atomic():
        if not MonthlyReport.objects.filter(pk=report_id, state=ReportState.PUBLISHING).exists():
            due_work_cancel(kind=PUBLISH_ACTOR, ref=report_id)
            return "skipped"
        _publish_lease(report_id)
    with transaction.atomic():
        report = MonthlyReport.objects.select_for_update(skip_locked=True).filter(pk=report_id).first()
        if report is None:
            return "busy"  # another worker is rendering it; the lease covers its crash
        if report.state != ReportState.PUBLISHING:
            due_work_cancel(kind=PUBLISH_ACTOR, ref=report_id)
            return "skipped"
        log.info("reports.publish.rendering", extra={"report": report_id, "version": report.version})
        pdf = _pdf(report, draft=False)
        digest = hashlib.sha256(pdf).hexdigest()
        ReportFile.objects.create(report=report, pdf=pdf)
        report.state, report.published_at, report.published_by = ReportState.PUBLISHED, now, report.publish_requested_by
        report.pdf_sha256, report.pdf_size = digest, len(pdf)
        report.save(update_fields=["state", "published_at", "published_by", "pdf_sha256", "pdf_size"])
        audit_record(
            actor=Actor(type="provider_staff", name=report.published_by or "reports"),
            action="report.publish",
            target_type="report",
            target_id=report.pk,
            data={"sha256": digest, "size": len(pdf), "version": report.version},
        )
        from reports.tasks import report_notify_task

        due_work_cancel(kind=PUBLISH_ACTOR, ref=report_id)
        report_pk = str(report.pk)
        transaction.on_commit(lambda: report_notify_task.send(report_pk))
    log.info("reports.publish.done", extra={"report": str(report.pk), "bytes": len(pdf)})
    return "published"


def report_recipients(*, report: MonthlyReport) -> list[str]:
    """The contract's report recipients (the version in force at the month's end)."""
    from mdr.scope.selectors import version_in_force

    version = version_in_force(at=report.period_end - timedelta(seconds=1)) or version_in_force(at=timezone.now())
    return list(version.report_recipients) if version else []


SUBJECTS = {
    "ja": "【MDR】{month} 月次レポートを公開しました（{customer}）",  # noqa: RUF001
    "en": "[MDR] Monthly report for {month} is available ({customer})",
}
BODIES = {
    "ja": "{customer} ご担当者様\n\n{month} の月次セキュリティ監視レポート（第{version}版）を公開しました。\n"  # noqa: RUF001
    "ポータルにログインしてご確認ください:\n{link}\n\nSHA-256: {sha}\n",
    "en": "Dear {customer} team,\n\nThe monthly security monitoring report for {month} (version {version}) is "
    "available. Please sign in to the portal to read it:\n{link}\n\nSHA-256: {sha}\n",
}


def report_notify(*, report_id) -> int:
    """E-mail the recipients a portal link to a published report (never the file). Returns how many."""
    from django.core.mail import EmailMessage

    from tenants.services import current_customer_link

    report = MonthlyReport.objects.filter(pk=report_id, state=ReportState.PUBLISHED).first()
    if report is None:
        return 0
    recipients = report_recipients(report=report)
    if not recipients:
        return 0
    values = {
        "customer": _customer().name,
        "month": f"{report.month:%Y-%m}",
        "version": report.version,
        "link": current_customer_link(f"reports/{report.pk}") or "",
        "sha": report.pdf_sha256,
    }
    EmailMessage(
        subject=SUBJECTS[report.language].format(**values),
        body=BODIES[report.language].format(**values),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    ).send(fail_silently=False)
    audit_record(
        actor=Actor.system("reports"),
        action="report.notify",
        target_type="report",
        target_id=report.pk,
        data={"recipients": len(recipients)},
    )
    return len(recipients)


def report_pdf(*, report: MonthlyReport, actor: Actor) -> bytes:
    """The published PDF, read through an authorised path only; every read is audited (the customer's access log
    shows provider staff who read it)."""
    if report.state != ReportState.PUBLISHED:
        raise ReportError("state", _("only a published report can be downloaded"))
    pdf = bytes(ReportFile.objects.get(report=report).pdf)
    audit_record(actor=actor, action="report.download", target_type="report", target_id=report.pk)
    return pdf


# ---- scheduling ------------------------------------------------------------------------------------------------


def report_next_due(*, after: datetime, tz: str) -> datetime:
    """The next 1st of a month at 06:00 in ``tz`` strictly after ``after``."""
    zone = ZoneInfo(tz)
    local = after.astimezone(zone)
    candidate = datetime.combine(local.date().replace(day=1), time(6, 0), tzinfo=zone)
    if candidate <= after:
        candidate = datetime.combine(_next_month(local.date().replace(day=1)), time(6, 0), tzinfo=zone)
    return candidate


def report_schedule_next(*, after: datetime | None = None) -> datetime:
    """Put this customer's next monthly generation in the due-work index."""
    due = report_next_due(after=after or timezone.now(), tz=_customer().timezone or settings.TIME_ZONE)
    due_work_schedule(kind=GENERATE_ACTOR, ref=SCHEDULE_REF, due_at=due)
    return due


def report_generate_due(*, now: datetime | None = None) -> MonthlyReport | None:
    """What the scheduler's due work runs in a customer's schema: the previous month's draft, then the next date."""
    now = now or timezone.now()
    tz = _customer().timezone or settings.TIME_ZONE
    local_month = now.astimezone(ZoneInfo(tz)).date().replace(day=1)
    previous = (local_month - timedelta(days=1)).replace(day=1)
    report = None
    try:
        report, _created = report_generate_monthly(month=previous, actor=Actor.system("scheduler"), now=now)
    finally:
        report_schedule_next(after=now)
    return report
