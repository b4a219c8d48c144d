"""Escalation to the customer's CSIRT: contacts, the (versioned) matrix, running escalations, every delivery
attempt and the one-time acknowledgement tokens."""

import uuid

from django.db import models


class Contact(models.Model):
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    language = models.CharField(max_length=2, default="ja")
    webhook_url = models.URLField(blank=True)
    webhook_secret = models.CharField(max_length=100, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
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
    RUNNING = "running", "Running"
    ACKNOWLEDGED = "acknowledged", "Acknowledged by the customer"
    UNREACHABLE = "unreachable", "Customer unreachable (ladder exhausted)"


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


class Delivery(models.Model):
    """One attempt to reach one contact on one channel: the proof of time-to-notify."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="deliveries")
    level = models.PositiveSmallIntegerField()
    cycle = models.PositiveSmallIntegerField()
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT)
    channel = models.CharField(max_length=16)
    target = models.CharField(max_length=500)
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["escalation", "at", "id"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.target}: {'ok' if self.ok else 'failed'}"


class AckToken(models.Model):
    """A one-time acknowledgement link: only the SHA-256 of the token is stored."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="tokens")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT)
    token_sha256 = models.CharField(max_length=64, unique=True)
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
