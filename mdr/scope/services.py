"""Writes to contracts and scope."""

from datetime import date

from django.db import transaction

from mdr.audit.services import Actor, audit_record
from mdr.scope.models import Contract


def contract_create_placeholder(
    *, actor: Actor, customer_name: str, timezone: str, language: str, starts_on: date
) -> Contract:
    """The draft contract every new customer starts with, to be completed by the provider."""
    with transaction.atomic():
        contract = Contract.objects.create(
            name=f"{customer_name} MDR service",
            timezone=timezone,
            report_language=language,
            starts_on=starts_on,
        )
        audit_record(
            actor=actor,
            action="contract.create",
            target_type="contract",
            target_id=contract.pk,
            data={"status": contract.status, "placeholder": True},
        )
    return contract
