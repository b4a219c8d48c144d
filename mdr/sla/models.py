"""SLA policies, timers and their history (customer schema).

A timer is a row with its own append-only event history (started, paused, resumed, goal changed, warned,
breached, met, cancelled). The row holds the state the sweep needs (deadline, next warning); the history is the
truth: ``services.timer_replay`` recomputes the row from the events and ``manage.py sla_recompute`` proves a
timer's state for an auditor. A timer keeps the target it started with (goal and calendar are copied), so
editing a policy never changes running timers.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


class Metric(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", _("Time to acknowledge")
    NOTIFY = "notify", _("Time to notify the customer's CSIRT")
    UPDATE = "update", _("Update cadence")
    RESOLVE = "resolve", _("Time to resolve")


class CalendarKind(models.TextChoices):
    ALWAYS = "24x7", _("24x7 (wall clock)")
    COVERAGE = "coverage", _("The contract's coverage hours")
    CUSTOM = "custom", _("A stored business calendar")


class StoredCalendar(models.Model):
    """A named business calendar, versioned: editing creates a new version (timers keep the spec they copied)."""

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    spec = models.JSONField(help_text="BusinessCalendar.to_dict()")
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="%(app_label)s_%(class)s_name_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class SlaPolicy(models.Model):
    """Per priority and metric a goal and the calendar it runs on. A contract version names its policy
    (``ContractVersion.sla_policy_id``); a policy is never edited in place: a change is a new policy (version + 1)
    that a new contract version refers to."""

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    warning_thresholds = ArrayField(models.PositiveSmallIntegerField(), default=list)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class SlaTarget(models.Model):
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=2, choices=[(p, p) for p in ("P1", "P2", "P3", "P4")])
    metric = models.CharField(max_length=16, choices=Metric.choices)
    goal_seconds = models.PositiveIntegerField()
    calendar_kind = models.CharField(max_length=16, choices=CalendarKind.choices, default=CalendarKind.ALWAYS)
    calendar = models.ForeignKey(StoredCalendar, on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "priority", "metric"], name="%(app_label)s_%(class)s_priority_metric"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority} {self.metric} {self.goal_seconds}s"


class TimerState(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met (stopped by its event)")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATES = (TimerState.RUNNING, TimerState.PAUSED)


class SlaTimer(models.Model):
    """One clock: a metric of a subject (alert or incident) against a goal in business time."""

    subject_type = models.CharField(max_length=16)
    subject_id = models.CharField(max_length=64)
    metric = models.CharField(max_length=16, choices=Metric.choices)
    priority = models.CharField(max_length=2)
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, null=True, blank=True)
    goal_seconds = models.PositiveIntegerField()
    calendar_spec = models.JSONField(help_text="the BusinessCalendar this timer runs on, copied at start")
    warning_thresholds = ArrayField(models.PositiveSmallIntegerField(), default=list)
    state = models.CharField(max_length=16, choices=TimerState.choices, default=TimerState.RUNNING)
    started_at = models.DateTimeField()
    # Business time accumulated up to ``resumed_at`` (or up to the pause, while paused).
    elapsed_business_seconds = models.FloatField(default=0)
    resumed_at = models.DateTimeField(null=True, blank=True)
    paused_since = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True, help_text="breach instant while running")
    warned_pct = models.PositiveSmallIntegerField(default=0)
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    elapsed_wall_seconds = models.FloatField(null=True, blank=True, help_text="start to stop, set when stopped")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "metric"],
                condition=models.Q(state__in=["running", "paused"]),
                name="%(app_label)s_%(class)s_one_open_per_metric",
            ),
        ]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="sla_timer_subject_idx"),
            models.Index(fields=["started_at"], name="sla_timer_started_idx"),  # a month's timers (reports)
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.subject_type}:{self.subject_id} ({self.state})"


class EventKind(models.TextChoices):
    STARTED = "started", _("Started")
    PAUSED = "paused", _("Paused")
    RESUMED = "resumed", _("Resumed")
    GOAL_CHANGED = "goal_changed", _("Goal changed")
    WARNED = "warned", _("Warned")
    BREACHED = "breached", _("Breached")
    MET = "met", _("Met")
    CANCELLED = "cancelled", _("Cancelled")


class SlaTimerEvent(models.Model):
    """Append-only history of a timer: enough to recompute its state at any time."""

    timer = models.ForeignKey(SlaTimer, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    at = models.DateTimeField()
    data = models.JSONField(default=dict)
    actor = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["timer", "at", "id"]
        indexes = [
            # Pauses of a period with their reasons (reports), without reading every event.
            models.Index(fields=["at"], name="sla_event_paused_at_idx", condition=models.Q(kind="paused")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.at:%Y-%m-%d %H:%M:%S}"


class SlaBreach(models.Model):
    """A breach, with the evidence an auditor needs (goal, calendar, start, pauses, elapsed)."""

    timer = models.OneToOneField(SlaTimer, on_delete=models.PROTECT, related_name="breach")
    breached_at = models.DateTimeField()
    deadline = models.DateTimeField()
    evidence = models.JSONField()

    def __str__(self) -> str:
        return f"breach of {self.timer}"
