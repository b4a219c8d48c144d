"""Monthly customer reports: one row per (month, language, version) with the month's metrics, the analyst's
recommendations, and once published the PDF (kept in the customer's own schema: served only through an authorised
view, never a file URL). A published report is immutable (a database trigger refuses any change); regenerating a
past month makes a new version with its reason."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReportState(models.TextChoices):
    DRAFT = "draft", _("Draft (under review)")
    PUBLISHING = "publishing", _("Publishing (rendering in the reports queue)")
    PUBLISHED = "published", _("Published")


class MonthlyReport(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    month = models.DateField(help_text="the first day of the month, in the customer's time zone")
    language = models.CharField(max_length=2)
    version = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=10, choices=ReportState.choices, default=ReportState.DRAFT)
    timezone = models.CharField(max_length=64)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(help_text="exclusive")
    as_of = models.DateTimeField(help_text="the data as of this instant")
    metrics = models.JSONField(help_text="reports.metrics.monthly_metrics(): every figure in the report")
    recommendations = models.JSONField(default=list, help_text="the analyst's recommendations (texts)")
    customer_actions = models.JSONField(default=list, help_text="open actions for the customer (texts)")
    reason = models.TextField(blank=True, help_text="why this version was generated again")
    generated_at = models.DateTimeField()
    generated_by = models.CharField(max_length=200)
    publish_requested_by = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.CharField(max_length=200, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf_size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-month", "language", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "language", "version"], name="%(app_label)s_%(class)s_unique_version"
            ),
            models.UniqueConstraint(
                fields=["month", "language"],
                condition=models.Q(state__in=["draft", "publishing"]),
                name="%(app_label)s_%(class)s_one_draft",
            ),
        ]

    def __str__(self) -> str:
        return f"report {self.month:%Y-%m} {self.language} v{self.version} ({self.state})"


class ReportFile(models.Model):
    """The published PDF (PDF/A-3b with the metrics JSON and the alert/incident CSVs attached)."""

    report = models.OneToOneField(MonthlyReport, on_delete=models.PROTECT, primary_key=True, related_name="file")
    pdf = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pdf of {self.report_id}"
