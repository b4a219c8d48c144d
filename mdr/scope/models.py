"""A customer's contract: what is covered, when, at which tier.

For now only the contract head that onboarding creates as a placeholder (status ``draft``); versions, scope
items, coverage calendars and entitlements come with the contract-scope work (issue 4).
"""

from django.db import models


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft (placeholder from onboarding)"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class Contract(models.Model):
    """The customer's MDR contract head."""

    name = models.CharField(max_length=200)
    service_tier = models.CharField(max_length=50, default="standard")
    status = models.CharField(max_length=16, choices=ContractStatus.choices, default=ContractStatus.DRAFT)
    timezone = models.CharField(max_length=64, default="Asia/Tokyo")
    report_language = models.CharField(max_length=2, default="ja")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return self.name
