"""Provider-wide (public schema) records: customers, their domains and API key digests.

Nothing here holds a customer's security data; it is what the ingest path and the host router need to
resolve a tenant before entering its schema (DESIGN.md §3).
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from tenants.constants import CustomerStatus


class Customer(TenantMixin):
    """One MDR customer and its PostgreSQL schema. The provider itself is the row whose schema is public."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=40, unique=True)
    status = models.CharField(max_length=16, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE)
    timezone = models.CharField(max_length=64, default="Asia/Tokyo")
    language = models.CharField(max_length=2, default="ja")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    offboarded_at = models.DateTimeField(null=True, blank=True)
    # Per-key ingest rate limit for this customer's keys; empty means the deployment default
    # (MDR_INGEST_RATE_PER_SECOND / MDR_INGEST_BURST).
    ingest_rate_per_second = models.FloatField(null=True, blank=True)
    ingest_burst = models.PositiveIntegerField(null=True, blank=True)

    # Schemas are created by tenants.services.customer_onboard inside one transaction, never by save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        """The schema as a copy of the migrated template: the template's SQL replayed (tenants/schema_copy.py, constant
        time whatever the number of customers), else django-tenants' clone and fake migrate."""
        from django.db import connection

        from tenants.schema_copy import schema_copy_from_template

        if sync_schema and not check_if_exists and schema_copy_from_template(self.schema_name):
            connection.set_schema_to_public()
            return True
        return super().create_schema(check_if_exists=check_if_exists, sync_schema=sync_schema, verbosity=verbosity)

    @property
    def is_provider(self) -> bool:
        return self.schema_name == "public"

    @property
    def is_active(self) -> bool:
        return self.status == CustomerStatus.ACTIVE


class Domain(DomainMixin):
    """A host name routed to a customer's schema (or to the provider console for the public row)."""


class ApiKeyScope(models.TextChoices):
    INGEST = "ingest", _("Push alerts")
    READ = "read", _("Read alerts, incidents and reports")


class ApiKey(models.Model):
    """An API key of one customer: only the SHA-256 digest of the full key is kept.

    The key reads ``mdr_<public_id>_<secret><checksum>``; ``public_id`` finds the row, the digest is compared in
    constant time, the checksum lets a mistyped key be refused without touching the database.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    public_id = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=16, choices=ApiKeyScope.choices))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "revoked_at"], name="tenants_apikey_customer_idx")]

    def __str__(self) -> str:
        return f"{self.name} (mdr_{self.public_id}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
