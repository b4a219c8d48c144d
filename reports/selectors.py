"""Read queries of the reports app."""

from django.db.models import QuerySet

from reports.models import MonthlyReport, ReportState


def report_list_published() -> QuerySet[MonthlyReport]:
    """The customer's published reports, newest month first, every version (older versions stay readable)."""
    return MonthlyReport.objects.filter(state=ReportState.PUBLISHED).order_by("-month", "language", "-version")


def report_list() -> QuerySet[MonthlyReport]:
    """Every report of the current customer (drafts, publishing and published; every version), newest month first."""
    return MonthlyReport.objects.order_by("-month", "language", "-version")


def report_get(*, report_id) -> MonthlyReport | None:
    """One report of the current schema, None for an unknown or malformed id."""
    import uuid

    try:
        pk = uuid.UUID(str(report_id))
    except ValueError:
        return None
    return MonthlyReport.objects.filter(pk=pk).first()
