"""The append-only, hash-chained audit log. One table per schema: provider actions in public, and in each
customer's schema everything done to or seen of that customer's data (including by provider staff).

Rows are never updated or deleted: a database trigger refuses it, and each row carries the SHA-256 of its
predecessor's hash and its own content, so a removed or altered row breaks the chain.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ActorType(models.TextChoices):
    PROVIDER_STAFF = "provider_staff", _("Provider staff")
    CUSTOMER_USER = "customer_user", _("Customer user")
    API_KEY = "api_key", _("API key")
    SYSTEM = "system", _("System")
    ANONYMOUS = "anonymous", _("Anonymous")


class AuditEvent(models.Model):
    """One audited action. ``hash`` = SHA-256(prev_hash + canonical JSON of the other fields)."""

    created_at = models.DateTimeField()
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["action", "created_at"], name="audit_event_action_idx"),
            models.Index(fields=["created_at"], name="audit_event_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"
