"""Data and clients for the portal page tests: rows written straight through the ORM in one customer's schema."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.accounts.models import Role
from mdr.alerts.models import Alert
from mdr.escalations.models import Contact, Escalation, EscalationMatrix
from mdr.incidents.models import Incident, IncidentEvent, Visibility
from tests.conftest import login
from tests.factories import PASSWORD, UserFactory

ROLES = (Role.CUSTOMER_ADMIN, Role.CSIRT, Role.VIEWER)


def portal_client(tenant, role: str, username: str | None = None) -> Client:
    username = username or f"{tenant.slug}-{role}"
    with schema_context(tenant.schema):
        UserFactory(username=username, role=role)
    client = tenant.client()
    login(client, username, PASSWORD)
    return client


def make_alert(schema: str, n: int, *, title: str = "", observed_at: datetime | None = None, **fields) -> Alert:
    now = timezone.now()
    observed_at = observed_at or now - timedelta(minutes=n)
    with schema_context(schema):
        return Alert.objects.create(
            dedup_key=f"t-{uuid.uuid4().hex}",
            source_format="native",
            source_product="edr",
            title=title or f"alert {n}",
            severity_id=fields.pop("severity_id", 4),
            observed_at=observed_at,
            received_at=now,
            first_seen_at=observed_at,
            last_seen_at=observed_at,
            hosts=fields.pop("hosts", [f"host{n}"]),
            raw=fields.pop("raw", {"n": n}),
            **fields,
        )


def make_incident(schema: str, title: str, *, priority: str = "P2") -> Incident:
    with schema_context(schema):
        return Incident.objects.create(title=title, severity_id=4, priority=priority)


def add_event(schema: str, incident: Incident, text: str, *, visibility: str) -> None:
    with schema_context(schema):
        IncidentEvent.objects.create(
            incident=incident, kind="note", at=timezone.now(), actor="soc", visibility=visibility, text=text
        )


def make_contact(schema: str, name: str, **fields) -> Contact:
    with schema_context(schema):
        return Contact.objects.create(
            name=name, email=fields.pop("email", f"{uuid.uuid4().hex[:8]}@example.com"), **fields
        )


def escalate(schema: str, incident: Incident, contact: Contact) -> Escalation:
    """A running escalation of ``incident`` on a one-level matrix reaching ``contact``."""
    with schema_context(schema):
        version = (EscalationMatrix.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        matrix = EscalationMatrix.objects.create(
            version=version,
            rules=[
                {
                    "min_priority": "P4",
                    "levels": [{"contacts": [contact.pk], "channels": ["email"], "wait_minutes": 15}],
                }
            ],
            created_by="tests",
        )
        return Escalation.objects.create(
            incident_id=incident.pk, matrix=matrix, rule_index=0, started_at=timezone.now()
        )


__all__ = ["ROLES", "Visibility"]
