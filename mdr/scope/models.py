"""A customer's contract (versioned, effective-dated), its scope and entitlements, the asset inventory, and
the records classification keeps: log source health, coverage degradations and inventory drift.

History is never rewritten: a published ``ContractVersion`` and its scope items and entitlements are frozen by
database triggers (migration 0003); the only change a published version accepts is its ``valid_to`` being set
once, when the next version takes over. Every past instant is evaluated against the version in force then.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft (placeholder from onboarding)")
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")


class Contract(models.Model):
    """The customer's MDR contract head; the terms live in its versions."""

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=ContractStatus.choices, default=ContractStatus.DRAFT)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return self.name


class ResponseMode(models.TextChoices):
    NOTIFY_ONLY = "notify_only", _("Notify only")
    COLLABORATE = "collaborate", _("Collaborate")
    AUTHORIZE = "authorize", _("Authorized to act")


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class ContractVersion(models.Model):
    """The terms in force from ``valid_from`` (inclusive) to ``valid_to`` (exclusive; open while current)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    valid_from = models.DateTimeField(null=True, blank=True, help_text="set when published")
    valid_to = models.DateTimeField(null=True, blank=True)
    service_tier = models.CharField(max_length=50, default="standard")
    response_mode = models.CharField(max_length=16, choices=ResponseMode.choices, default=ResponseMode.NOTIFY_ONLY)
    timezone = models.CharField(max_length=64, default="Asia/Tokyo")
    coverage = models.JSONField(default=dict, help_text="BusinessCalendar.to_dict(); empty means 24x7")
    sla_policy_id = models.PositiveIntegerField(null=True, blank=True, help_text="filled by the SLA engine")
    escalation_matrix_id = models.PositiveIntegerField(null=True, blank=True, help_text="filled by escalation")
    priority_matrix = models.JSONField(
        default=dict, blank=True, help_text="{severity band: {criticality: P1-P4}}; empty = the default matrix"
    )
    report_recipients = ArrayField(models.EmailField(), default=list, blank=True)
    report_language = models.CharField(max_length=2, default="ja")
    change_note = models.TextField(blank=True)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    published_by = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="%(app_label)s_%(class)s_number_unique"),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(valid_from__isnull=False),
                name="%(app_label)s_%(class)s_published_has_start",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=models.F("valid_from")),
                name="%(app_label)s_%(class)s_range_ordered",
            ),
        ]
        indexes = [models.Index(fields=["status", "valid_from"], name="scope_version_valid_idx")]

    def __str__(self) -> str:
        return f"{self.contract} v{self.number}"


class Criticality(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class ScopeKind(models.TextChoices):
    HOST = "host", _("Host name (exact or glob)")
    NETWORK = "network", _("IP network (CIDR)")
    CLOUD_ACCOUNT = "cloud_account", _("Cloud account")
    SAAS_TENANT = "saas_tenant", _("SaaS tenant")
    LOG_SOURCE = "log_source", _("Log source")
    ASSET_GROUP = "asset_group", _("Asset group")


class ScopeItem(models.Model):
    """One line of a version's scope: what is covered (or explicitly excluded), how critical it is."""

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="scope_items")
    kind = models.CharField(max_length=16, choices=ScopeKind.choices)
    value = models.CharField(max_length=255)
    provider = models.CharField(max_length=32, blank=True)
    region = models.CharField(max_length=64, blank=True)
    criticality = models.CharField(max_length=8, choices=Criticality.choices, default=Criticality.MEDIUM)
    included = models.BooleanField(default=True)
    remediation_allowed = models.BooleanField(default=False)
    label = models.CharField(max_length=200, blank=True)
    heartbeat_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="log sources: silence longer than this opens a coverage degradation"
    )

    class Meta:
        ordering = ["version", "kind", "value"]
        indexes = [models.Index(fields=["version", "kind"], name="scope_item_version_idx")]

    def __str__(self) -> str:
        return f"{'+' if self.included else '-'}{self.kind}:{self.value}"


class EntitlementMetric(models.TextChoices):
    ENDPOINTS = "endpoints", _("Endpoints")
    SERVERS = "servers", _("Servers")
    LOG_SOURCES = "log_sources", _("Log sources")
    EPS_AVG = "eps_avg", _("Events per second (average)")
    EPS_PEAK = "eps_peak", _("Events per second (peak)")
    GB_PER_DAY = "gb_per_day", _("GB per day")


class Measurement(models.TextChoices):
    DAILY_MAX = "daily_max", _("Daily maximum")
    UNIQUE_IN_MONTH = "unique_in_month", _("Unique in month")
    AVG_24H = "avg_24h", _("24 h average")
    PEAK_24H = "peak_24h", _("24 h peak")


class OverLimitPolicy(models.TextChoices):
    PROCESS_AND_REPORT = "process_and_report", _("Process and report the overage")
    RESTRICT_ACTIONS = "restrict_actions", _("Process, but no remediation actions")
    NOTIFY_ONLY = "notify_only", _("Notify only (classified over quota)")


class Entitlement(models.Model):
    """How much the contract includes of one metric, and what happens beyond it."""

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="entitlements")
    metric = models.CharField(max_length=16, choices=EntitlementMetric.choices)
    limit = models.DecimalField(max_digits=14, decimal_places=3)
    tolerance_pct = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    measurement = models.CharField(max_length=16, choices=Measurement.choices)
    over_limit_policy = models.CharField(max_length=24, choices=OverLimitPolicy.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "metric"], name="%(app_label)s_%(class)s_metric_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} <= {self.limit}"


class AssetKind(models.TextChoices):
    ENDPOINT = "endpoint", _("Endpoint")
    SERVER = "server", _("Server")
    NETWORK_DEVICE = "network_device", _("Network device")
    CLOUD = "cloud", _("Cloud resource")
    OTHER = "other", _("Other")


class Asset(models.Model):
    """The customer's known assets (CMDB-lite), in scope or not: what makes an alert 'out of scope' rather than
    'unknown asset', and what asset-group scope items expand to."""

    hostname = models.CharField(max_length=255, blank=True)
    ips = ArrayField(models.GenericIPAddressField(), default=list, blank=True)
    kind = models.CharField(max_length=16, choices=AssetKind.choices, default=AssetKind.ENDPOINT)
    groups = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    criticality = models.CharField(max_length=8, choices=Criticality.choices, default=Criticality.MEDIUM)
    owner = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["hostname"]
        constraints = [
            models.UniqueConstraint(
                fields=["hostname"], condition=~models.Q(hostname=""), name="%(app_label)s_%(class)s_hostname_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.hostname or ", ".join(self.ips)


class ScopeState(models.Model):
    """One row per customer schema: the inventory revision, part of the compiled matcher's cache key."""

    inventory_revision = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"inventory r{self.inventory_revision}"


class LogSourceState(models.Model):
    """When each log source was last heard of (from its alerts), for heartbeat checks."""

    source_key = models.CharField(max_length=255, unique=True, help_text="lower-case product name")
    display_name = models.CharField(max_length=255)
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.display_name


class CoverageDegradation(models.Model):
    """A period during which a contracted log source was silent beyond its heartbeat."""

    source_key = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255)
    started_at = models.DateTimeField(help_text="when the source went silent (its last alert)")
    detected_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    heartbeat_hours = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_key"],
                condition=models.Q(ended_at__isnull=True),
                name="%(app_label)s_%(class)s_one_open_per_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} silent since {self.started_at:%Y-%m-%d %H:%M}"


class DriftStatus(models.TextChoices):
    WATCHING = "watching", _("Seen, below the drift threshold")
    OPEN = "open", _("Inventory drift: seen repeatedly, not in the contract")
    DISMISSED = "dismissed", _("Dismissed")
    RESOLVED = "resolved", _("Resolved (added to inventory or scope)")


class UnknownAsset(models.Model):
    """A host or IP seen in alerts that neither the scope nor the inventory knows ('inventory drift' once it
    keeps appearing)."""

    identifier = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=8, choices=[("host", "Host"), ("ip", "IP")])
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=DriftStatus.choices, default=DriftStatus.WATCHING)
    drift_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurrences"]
        indexes = [models.Index(fields=["status", "-occurrences"], name="scope_unknown_status_idx")]

    def __str__(self) -> str:
        return f"{self.identifier} x{self.occurrences}"


class MeteredHost(models.Model):
    """A host counted against the endpoint/server entitlement in a month (first in-scope alert decides)."""

    month = models.DateField(help_text="first day of the month, in the contract's time zone")
    hostname = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=AssetKind.choices)
    first_seen_at = models.DateTimeField()
    over_limit = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "hostname"], name="%(app_label)s_%(class)s_month_host_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.hostname}"
