"""Escalation to the customer's CSIRT: contacts, the (versioned) matrix, running escalations, every delivery
attempt and the one-time acknowledgement tokens."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from mdr.core.crypto import EncryptedCharField, EncryptedURLField


class Contact(models.Model):
    """A person or duty desk of the customer's CSIRT, reachable on one or more channels. Never deleted (deliveries
    point at it): archived instead."""

    name = models.CharField(max_length=200)
    role = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    language = models.CharField(max_length=2, default="ja")
    webhook_url = models.URLField(blank=True)
    # Secrets are encrypted at rest (mdr/core/crypto.py): signing secrets, and chat URLs (they carry a bearer secret).
    webhook_secret = EncryptedCharField(max_length=100, blank=True)
    webhook_secret_previous = EncryptedCharField(max_length=100, blank=True, help_text="still signed with until")
    webhook_secret_previous_until = models.DateTimeField(null=True, blank=True)
    slack_webhook_url = EncryptedURLField(blank=True)
    teams_webhook_url = EncryptedURLField(blank=True)
    pgp_public_key = models.TextField(blank=True, help_text="ASCII-armoured; e-mail to this contact is encrypted")
    pgp_fingerprint = models.CharField(max_length=64, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    expiry_reminded_days = models.SmallIntegerField(
        null=True, blank=True, help_text="the last reminder sent, in days before valid_until (lower = later)"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class EscalationMatrix(models.Model):
    """One version of the matrix; never edited (a change is a new version). Rules: [{"min_priority": "P2",
    "levels": [{"contacts": [ids], "channels": ["email", "webhook"], "wait_minutes": 15}], "repeat": 2}]."""

    version = models.PositiveIntegerField(unique=True)
    rules = models.JSONField()
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"matrix v{self.version}"


class EscalationState(models.TextChoices):
    RUNNING = "running", _("Running")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged by the customer")
    UNREACHABLE = "unreachable", _("Customer unreachable (ladder exhausted)")


class Escalation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident_id = models.UUIDField()
    matrix = models.ForeignKey(EscalationMatrix, on_delete=models.PROTECT, help_text="the version in force then")
    rule_index = models.PositiveSmallIntegerField()
    level = models.PositiveSmallIntegerField(default=0)
    cycle = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=16, choices=EscalationState.choices, default=EscalationState.RUNNING)
    started_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=200, blank=True)
    ack_channel = models.CharField(max_length=16, blank=True)
    brief = models.JSONField(
        default=dict, help_text="what the analyst wrote for the notice: tlp, summary, impact, actions, recommendations"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident_id"],
                condition=models.Q(state="running"),
                name="%(app_label)s_%(class)s_one_running_per_incident",
            )
        ]

    def __str__(self) -> str:
        return f"escalation of {self.incident_id} ({self.state})"


class DeliveryState(models.TextChoices):
    STANDBY = "standby", _("Standby (a later channel of a failover level)")
    PENDING = "pending", _("Pending (queued or retrying)")
    SENT = "sent", _("Sent (accepted by the receiving server)")
    FAILED = "failed", _("Failed (attempts exhausted or refused)")
    CANCELLED = "cancelled", _("Cancelled (the customer acknowledged before it went out)")


class Delivery(models.Model):
    """One notice to one contact on one channel: the proof of time-to-notify. Its attempts are recorded one by one
    (``DeliveryAttempt``); ``message_id`` (e-mail Message-ID, ``webhook-id``) is fixed at creation and stays the
    same across retries, so a receiver deduplicates. ``payload`` is the notice as sent (without the link token)."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="deliveries")
    level = models.PositiveSmallIntegerField()
    cycle = models.PositiveSmallIntegerField()
    notice_kind = models.CharField(max_length=16, default="first")
    sequence = models.PositiveSmallIntegerField(default=1)
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT)
    channel = models.CharField(max_length=16)
    target = models.CharField(max_length=500)
    created_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    payload = models.JSONField(default=dict)
    ack_token = models.ForeignKey("AckToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["escalation", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.target}: {self.state}"


class DeliveryAttempt(models.Model):
    """One try of a delivery: when, what the receiving side answered."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.CharField(max_length=500, blank=True, help_text="SMTP reply or the start of the HTTP body")
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="%(app_label)s_%(class)s_unique_number"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {'ok' if self.ok else 'failed'}"


class AckToken(models.Model):
    """A one-time acknowledgement link: only the SHA-256 of the token is stored."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="tokens")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT)
    token_sha256 = models.CharField(max_length=64, unique=True)
    nonce = models.CharField(
        max_length=32, blank=True, help_text="the token is HMAC(SECRET_KEY, schema+nonce): workers re-derive it"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_ip = models.GenericIPAddressField(null=True, blank=True)

    def __str__(self) -> str:
        return f"ack token for {self.contact}"


class ContactVerification(models.Model):
    """A test message the contact confirms by link: proves the address reaches a person. Only the SHA-256 of the
    token is stored."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="verifications")
    token_sha256 = models.CharField(max_length=64, unique=True)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_ip = models.GenericIPAddressField(null=True, blank=True)

    def __str__(self) -> str:
        return f"verification of {self.contact}"


class ProposalKind(models.TextChoices):
    CONTACT_CREATE = "contact_create", _("Add a contact")
    CONTACT_UPDATE = "contact_update", _("Change a contact")
    CONTACT_ARCHIVE = "contact_archive", _("Remove a contact")
    MATRIX = "matrix", _("New escalation matrix")


class ProposalState(models.TextChoices):
    PENDING = "pending", _("Pending provider approval")
    APPROVED = "approved", _("Approved and applied")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn by the customer")


class ChangeProposal(models.Model):
    """A customer admin's proposed change to contacts or the matrix; applied only when the provider approves it
    (two-step, each step audited)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=ProposalKind.choices)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="proposals")
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=ProposalState.choices, default=ProposalState.PENDING)
    proposed_by = models.CharField(max_length=200)
    proposed_at = models.DateTimeField()
    comment = models.TextField(blank=True)
    decided_by = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    result = models.JSONField(default=dict, help_text="what approval produced: contact id, matrix version")

    class Meta:
        ordering = ["-proposed_at"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.state})"
