"""Read queries of the reports app."""

from django.db.models import QuerySet

from reports.models import MonthlyReport, ReportState


def report_list_published() -> QuerySet[MonthlyReport]:
    """The customer's published reports, newest month first, every version (older versions stay readable)."""
    return MonthlyReport.objects.filter(state=ReportState.PUBLISHED).order_by("-month", "language", "-version")
