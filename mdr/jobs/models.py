"""Public-schema work tables: the transactional outbox, the failed-jobs record, the due-work and timer indexes, the
index of customers' open requests and the console's offboarding runs.

An outbox row is written in the same transaction as the data it announces (e.g. an ingest batch), so a
message is never lost to a Redis outage: the relay re-sends rows that were not sent, or were sent long ago
and never processed (a message lost when Redis restarted without persistence). Rows hold ids and the tenant
only, never alert content (DESIGN.md §3).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Outbox(models.Model):
    """One unit of background work announced by a committed transaction."""

    schema_name = models.CharField(max_length=63)
    topic = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            # The relay's scan: cost follows pending work, not history.
            models.Index(
                fields=["id"],
                name="jobs_outbox_pending_idx",
                condition=models.Q(processed_at__isnull=True, failed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic}#{self.pk}@{self.schema_name}"


class FailedJob(models.Model):
    """Work that kept failing and was given up on: kept for an operator to inspect and replay."""

    outbox = models.OneToOneField(Outbox, on_delete=models.CASCADE, related_name="failure")
    schema_name = models.CharField(max_length=63)
    topic = models.CharField(max_length=64)
    attempts = models.PositiveIntegerField()
    error = models.TextField()
    failed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-failed_at"]

    def __str__(self) -> str:
        return f"failed {self.topic}#{self.outbox_id}@{self.schema_name}"


class DueWork(models.Model):
    """The due-work index: when something in a customer schema needs attention (a silent log source, an SLA
    deadline, an escalation step). Ids, times and the tenant only (DESIGN.md §3); the sweep reads the rows that
    are due, so its cost follows due work, never the number of customers. One row per (tenant, kind, ref):
    rescheduling moves the row."""

    schema_name = models.CharField(max_length=63)
    kind = models.CharField(max_length=64, help_text="the dramatiq actor that handles it")
    ref = models.CharField(max_length=128)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schema_name", "kind", "ref"], name="%(app_label)s_%(class)s_unique"),
        ]
        indexes = [models.Index(fields=["due_at"], name="jobs_duework_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}@{self.schema_name} due {self.due_at:%Y-%m-%d %H:%M:%S}"


class TimerIndex(models.Model):
    """Every open SLA timer of every customer, for the cross-customer analyst queue (ordered by deadline) without
    entering any schema. Ids, times, priority and metric only; maintained by the SLA services."""

    schema_name = models.CharField(max_length=63)
    timer_id = models.BigIntegerField()
    subject_type = models.CharField(max_length=16)
    subject_id = models.CharField(max_length=64)
    metric = models.CharField(max_length=16)
    priority = models.CharField(max_length=2)
    deadline = models.DateTimeField(null=True, blank=True, help_text="null while paused")
    breached = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schema_name", "timer_id"], name="%(app_label)s_%(class)s_unique"),
        ]
        indexes = [
            models.Index(fields=["deadline"], name="jobs_timerindex_deadline_idx"),
            # The console's health counts: breached timers are few, and a paused one has no deadline to index.
            models.Index(
                fields=["schema_name"], name="jobs_timerindex_breached_idx", condition=models.Q(breached=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.priority} @{self.schema_name} due {self.deadline}"


class OpenRequestKind(models.TextChoices):
    PROPOSAL = "proposal", _("change proposal")
    ACTION_HELP = "action_help", _("recommended action: need help")


class OpenRequestIndex(models.Model):
    """What customers are waiting on the provider for, across customers: pending contact/matrix change proposals and
    recommended actions marked "need help". Ids, kind and times only (DESIGN.md §3); the row is written and removed
    by the customer-side service in the same transaction as the change, so the console lists every customer's open
    requests with one query instead of entering every schema."""

    schema_name = models.CharField(max_length=63)
    kind = models.CharField(max_length=16, choices=OpenRequestKind.choices)
    ref = models.CharField(max_length=64, help_text="the proposal or recommended action id in the customer schema")
    subject = models.CharField(max_length=64, blank=True, help_text="proposal kind, or the action's incident id")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schema_name", "kind", "ref"], name="%(app_label)s_%(class)s_unique"),
        ]
        indexes = [models.Index(fields=["kind", "created_at"], name="jobs_openrequest_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}@{self.schema_name}"


class OffboardingState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done: exported, verified, schema dropped")
    FAILED = "failed", _("Failed")


class OffboardingRun(models.Model):
    """One offboarding started from the console and run by a worker (``customer_offboard_task``): who asked, where
    the export goes, and what came out (the manifest's SHA-256 and row counts, or the error). The customer row
    stays after offboarding, so the run does too."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="offboarding_runs")
    state = models.CharField(max_length=10, choices=OffboardingState.choices, default=OffboardingState.QUEUED)
    requested_by = models.CharField(max_length=200)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    export_dir = models.CharField(max_length=1000)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    row_counts = models.JSONField(default=dict)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # one offboarding at a time per customer (a second click while one runs is refused by the database)
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(state__in=["queued", "running"]),
                name="%(app_label)s_%(class)s_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"offboard {self.customer_id} {self.state}"


class CustomerHealth(models.Model):
    """One customer's health at a glance, for the console's customer list without entering 2,000 schemas: figures
    computed inside the customer's schema by a worker (``customer_health_refresh``, a few aggregate queries) and
    upserted here. Counts and times only, no alert content (DESIGN.md §3). Refreshed through the due-work index
    (one pending row per customer, so a burst of alerts costs one refresh) after alert batches, incident changes,
    log-source silence and contract publication; SLA timers at risk or breached are not stored here but read live
    from ``TimerIndex``."""

    customer = models.OneToOneField("tenants.Customer", on_delete=models.CASCADE, related_name="health")
    open_incidents = models.PositiveIntegerField(default=0)
    open_p1 = models.PositiveIntegerField(default=0)
    last_alert_at = models.DateTimeField(null=True, blank=True, help_text="newest alert received")
    silent_sources = models.PositiveIntegerField(default=0, help_text="open coverage degradations")
    contract_end = models.DateField(null=True, blank=True, help_text="the current contract's end; null: open-ended")
    refreshed_at = models.DateTimeField(null=True, blank=True, help_text="null: never computed (backfilled row)")

    def __str__(self) -> str:
        return f"health of {self.customer_id} @ {self.refreshed_at}"
