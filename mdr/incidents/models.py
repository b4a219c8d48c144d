"""Incidents of one customer: alerts grouped by correlation rules (or by hand), their lifecycle and timeline.

One open incident per (correlation rule, key) is enforced by a partial unique index, so two workers correlating
at once cannot open two incidents for the same host.
"""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class IncidentState(models.TextChoices):
    NEW = "new", _("New")
    INVESTIGATING = "investigating", _("Investigating")
    ESCALATED = "escalated", _("Escalated to the customer")
    AWAITING_CUSTOMER = "awaiting_customer", _("Awaiting customer")
    CONTAINED = "contained", _("Contained")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


OPEN_STATES = ("new", "investigating", "escalated", "awaiting_customer", "contained")

TRANSITIONS: dict[str, set[str]] = {
    "new": {"investigating", "escalated", "resolved", "closed"},
    "investigating": {"escalated", "awaiting_customer", "contained", "resolved"},
    "escalated": {"investigating", "awaiting_customer", "contained", "resolved"},
    "awaiting_customer": {"investigating", "escalated", "contained", "resolved"},
    "contained": {"investigating", "awaiting_customer", "resolved"},
    "resolved": {"closed", "investigating"},
    "closed": {"investigating"},
}


class CorrelationKey(models.TextChoices):
    HOST = "host", _("Same host")
    USER = "user", _("Same user")
    RULE = "rule", _("Same detection rule")
    TECHNIQUE = "technique", _("Same ATT&CK technique")


class CorrelationRule(models.Model):
    """Alerts sharing ``key`` within ``window_minutes`` of the incident's last alert join one incident."""

    name = models.CharField(max_length=100, unique=True)
    key = models.CharField(max_length=16, choices=CorrelationKey.choices)
    window_minutes = models.PositiveIntegerField(default=60)
    max_priority = models.CharField(max_length=2, default="P3", help_text="alerts of this priority or higher")
    position = models.PositiveSmallIntegerField(default=0)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=500)
    state = models.CharField(max_length=20, choices=IncidentState.choices, default=IncidentState.NEW)
    severity_id = models.PositiveSmallIntegerField()
    priority = models.CharField(max_length=2)
    correlation_rule = models.CharField(max_length=100, blank=True)
    correlation_key = models.CharField(max_length=255, blank=True)
    first_alert_at = models.DateTimeField(null=True, blank=True)
    last_alert_at = models.DateTimeField(null=True, blank=True)
    alert_count = models.PositiveIntegerField(default=0)
    customer_summary = models.TextField(blank=True)
    merged_into = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Escalation milestones, kept on the incident so the SOC sees them at once and reports read them without joins.
    notified_at = models.DateTimeField(null=True, blank=True, help_text="first successful delivery to the CSIRT")
    customer_acknowledged_at = models.DateTimeField(null=True, blank=True)
    customer_unreachable_at = models.DateTimeField(null=True, blank=True, help_text="the ladder ran out")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["correlation_rule", "correlation_key"],
                condition=models.Q(state__in=OPEN_STATES) & ~models.Q(correlation_rule=""),
                name="%(app_label)s_%(class)s_one_open_per_rule_key",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Visibility(models.TextChoices):
    INTERNAL = "internal", _("Internal (SOC only)")
    CUSTOMER = "customer", _("Visible to the customer")


class IncidentEvent(models.Model):
    """The timeline: state changes, alerts added, notes (internal) and updates (customer-visible)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=32)
    at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["incident", "at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.at:%Y-%m-%d %H:%M}"


class ActionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")
    NEED_HELP = "need_help", _("Need help")


class RecommendedAction(models.Model):
    """One action the SOC recommended to the customer in an escalation notice (the brief's ``recommended_actions``),
    with the status the customer sets. One row per distinct text per incident: a follow-up repeating an action keeps
    the row (and its status)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="recommended_actions")
    text = models.TextField()
    text_sha256 = models.CharField(max_length=64, help_text="of the normalised text: one row per text and incident")
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=ActionStatus.choices, default=ActionStatus.OPEN)
    note = models.TextField(blank=True)
    status_by = models.CharField(max_length=200, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    escalation_id = models.UUIDField(null=True, blank=True, help_text="the escalation whose brief recommended it")

    class Meta:
        ordering = ["incident", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "text_sha256"], name="%(app_label)s_%(class)s_one_per_text"),
        ]
        indexes = [
            models.Index(
                fields=["status"],
                name="incidents_action_help_idx",
                condition=models.Q(status="need_help"),
            ),
        ]

    def __str__(self) -> str:
        return self.text[:80]
