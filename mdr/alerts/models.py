"""Alerts of one customer (customer schema): the normalised shape every format adapter produces.

Rows are written set-based by ``services.alert_ingest`` (COPY into a session staging table, then one
``INSERT ... ON CONFLICT (dedup_key)``), never with ``save()`` per alert. A duplicate bumps
``occurrence_count`` and ``last_seen_at`` of the existing row.
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertStatus(models.TextChoices):
    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    IN_PROGRESS = "in_progress", _("In progress")
    CLOSED = "closed", _("Closed")


class ScopeStatus(models.TextChoices):
    PENDING = "pending", _("Not classified yet")
    IN_SCOPE = "in_scope", _("In scope")
    OUT_OF_SCOPE = "out_of_scope", _("Out of scope")
    EXCLUDED = "excluded", _("Excluded")
    UNKNOWN_ASSET = "unknown_asset", _("Unknown asset")
    UNSUPPORTED_SOURCE = "unsupported_source", _("Unsupported log source")
    OVER_QUOTA = "over_quota", _("Over quota")


class Priority(models.TextChoices):
    P1 = "P1", "P1"
    P2 = "P2", "P2"
    P3 = "P3", "P3"
    P4 = "P4", "P4"


class Alert(models.Model):
    """One normalised alert. ``severity_id`` follows OCSF (0 unknown ... 6 fatal); the vendor's value is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dedup_key = models.CharField(max_length=100, unique=True)
    source_format = models.CharField(max_length=32)
    source_product = models.CharField(max_length=255, blank=True)
    source_vendor = models.CharField(max_length=255, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    severity_id = models.PositiveSmallIntegerField()
    severity_raw = models.CharField(max_length=255, blank=True)
    category = models.CharField(max_length=255, blank=True)
    rule_id = models.CharField(max_length=255, blank=True)
    rule_name = models.CharField(max_length=255, blank=True)
    tactics = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    techniques = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    observed_at = models.DateTimeField()
    observed_offset_minutes = models.SmallIntegerField(null=True, blank=True)
    received_at = models.DateTimeField()
    hosts = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    ips = ArrayField(models.GenericIPAddressField(), default=list, blank=True)
    users = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    cloud_provider = models.CharField(max_length=255, blank=True)
    cloud_account = models.CharField(max_length=255, blank=True)
    cloud_region = models.CharField(max_length=255, blank=True)
    raw = models.JSONField()
    occurrence_count = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.NEW)
    scope_status = models.CharField(max_length=20, choices=ScopeStatus.choices, default=ScopeStatus.PENDING)
    scope_reason = models.CharField(max_length=500, blank=True)
    criticality = models.CharField(max_length=8, blank=True, help_text="of the matched in-scope asset")
    remediation_allowed = models.BooleanField(default=False)
    contract_version_id = models.PositiveIntegerField(null=True, blank=True, help_text="the version that decided")
    in_coverage = models.BooleanField(null=True, help_text="observed inside the contract's coverage hours")
    priority = models.CharField(max_length=2, choices=Priority.choices, blank=True)
    incident_id = models.UUIDField(null=True, blank=True)
    api_key_public_id = models.CharField(max_length=16, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Columns added after ingest's INSERT was written carry database defaults, so the set-based writers (which
    # name their columns) keep working.
    assignee = models.CharField(max_length=200, blank=True, default="", db_default="")
    classification = models.CharField(max_length=24, blank=True, default="", db_default="")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-observed_at", "-id"]
        indexes = [
            models.Index(fields=["-observed_at", "-id"], name="alerts_alert_observed_idx"),
            GinIndex(fields=["hosts"], name="alerts_alert_hosts_gin"),
            # The month's alerts by arrival (monthly report, SLA report, CSV exports, usage metering).
            models.Index(fields=["received_at"], name="alerts_alert_received_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(severity_id__lte=6), name="%(app_label)s_%(class)s_severity_range"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.source_format})"


class IdempotencyRecord(models.Model):
    """The first response to a request that carried an ``Idempotency-Key``; written in the ingest transaction."""

    key = models.CharField(max_length=255, unique=True)
    request_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="alerts_idem_created_idx")]

    def __str__(self) -> str:
        return self.key


class Classification(models.TextChoices):
    TRUE_POSITIVE = "true_positive", _("True positive")
    BENIGN_TRUE_POSITIVE = "benign_true_positive", _("Benign true positive")
    FALSE_POSITIVE = "false_positive", _("False positive")
    DUPLICATE = "duplicate", _("Duplicate")


class AlertActivity(models.Model):
    """What people did to an alert (acknowledge, assign, classify, comment, close, reopen): its history."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="activity")
    kind = models.CharField(max_length=16)
    at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["alert", "at", "id"]
        indexes = [models.Index(fields=["alert", "at"], name="alerts_activity_alert_idx")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor}"
