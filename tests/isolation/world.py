"""Two committed customers full of data for the isolation matrix, their signed-in users and keys, and provider staff.

Customer A ("isoa") and customer B ("isob") are onboarded for this module alone (so nothing here changes what
``acme`` and ``globex`` hold for other tests) and dropped afterwards. Every row a customer owns that a page or an
API can show carries its marker (``MARKER_A`` / ``MARKER_B``), so "B's data in a response to A" is a substring test.
Integer ids restart at 1 in every schema, so B's objects are made twice and the second one is used: its id does
not exist in A, and a request for it on A's side must find nothing (rather than A's object with the same id).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.accounts.models import Role, User
from mdr.audit.services import Actor
from tests.conftest import login
from tests.factories import PASSWORD, ApiKeyFactory, UserFactory

MARKER_A = "MARKER_ISOA_7f3c"
MARKER_B = "MARKER_ISOB_4e9d"
SYSTEM = Actor.system("tests-isolation")
CUSTOMER_ROLES = {"viewer": Role.VIEWER, "csirt": Role.CSIRT, "admin": Role.CUSTOMER_ADMIN}
STAFF_ROLES = {"analyst": Role.ANALYST, "padmin": Role.PROVIDER_ADMIN, "am": Role.ACCOUNT_MANAGER}


@dataclass
class Side:
    """One customer of the matrix: where it lives, the ids of its objects (URL parameters) and its principals."""

    slug: str
    schema: str
    domain: str
    marker: str
    params: dict[str, object] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # role -> session key (on this customer's domain)
    keys: dict[str, str] = field(default_factory=dict)  # scope -> plaintext key


@dataclass
class World:
    a: Side
    b: Side
    staff_sessions: dict[str, str]  # role -> session key on the provider domain
    staff_user_id: int


def _session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _objects(side: Side, copies: int) -> None:
    """Rows of every kind a URL names, in the current schema; the ids of the last copy go into ``side.params``."""
    from mdr.alerts.models import Alert
    from mdr.escalations.contacts import contact_create
    from mdr.escalations.proposals import proposal_create
    from mdr.escalations.services import matrix_publish
    from mdr.incidents.models import Incident
    from mdr.incidents.services import recommended_actions_sync
    from mdr.scope.models import Contract
    from mdr.scope.services import version_draft_create
    from mdr.sla.calendar import BusinessCalendar
    from mdr.sla.services import calendar_store, policy_create, timer_start
    from reports.models import MonthlyReport, ReportFile, ReportState
    from reports.services import report_generate_monthly

    m = side.marker
    now = timezone.now()
    contract = Contract.objects.get()
    for i in range(copies):
        alert = Alert.objects.create(
            dedup_key=f"iso-{uuid.uuid4().hex}",
            source_format="native",
            source_product="edr",
            title=f"alert {m} {i}",
            severity_id=4,
            observed_at=now,
            received_at=now,
            first_seen_at=now,
            last_seen_at=now,
            hosts=[f"host-{m}"],
            raw={"marker": m},
        )
        incident = Incident.objects.create(title=f"incident {m} {i}", severity_id=4, priority="P2")
        alert.incident_id = incident.pk
        alert.save(update_fields=["incident_id"])
        (action,) = recommended_actions_sync(incident=incident, texts=[f"action {m} {i}"], actor=SYSTEM)
        contact, _ = contact_create(actor=SYSTEM, data={"name": f"contact {m} {i}", "email": f"c{i}@{side.slug}.test"})
        proposal = proposal_create(
            actor=SYSTEM, kind="contact_update", contact=contact, payload={"role": f"role {m}"}, comment=m
        )
        version = version_draft_create(actor=SYSTEM, contract=contract, terms={"change_note": f"draft {m} {i}"})
        calendar = calendar_store(actor=SYSTEM, name=f"calendar {m}", spec=BusinessCalendar.always().to_dict())
        policy = policy_create(
            actor=SYSTEM,
            name=f"policy {m}",
            targets=[{"priority": "P2", "metric": "acknowledge", "goal_minutes": 60, "calendar": "24x7"}],
        )
        timer = timer_start(
            subject_type="incident",
            subject_id=str(incident.pk),
            metric="acknowledge",
            priority="P2",
            goal_seconds=3600,
            calendar=BusinessCalendar.always(),
            at=now,
            policy=policy,
        )
        matrix = matrix_publish(
            actor=SYSTEM,
            rules=[
                {
                    "min_priority": "P3",
                    "levels": [{"contacts": [contact.pk], "channels": ["email"], "wait_minutes": 15}],
                }
            ],
        )
    month = (now.replace(day=1) - timedelta(days=1)).date().replace(day=1)
    report, _ = report_generate_monthly(month=month, actor=SYSTEM, language="en")
    MonthlyReport.objects.filter(pk=report.pk).update(
        state=ReportState.PUBLISHED, published_at=now, recommendations=[f"recommendation {m}"]
    )
    ReportFile.objects.create(report_id=report.pk, pdf=f"%PDF-1.4 {m}".encode())
    side.params.update(
        alert_id=alert.pk,
        incident_id=incident.pk,
        action_id=action.pk,
        contact_id=contact.pk,
        proposal_id=proposal.pk,
        number=version.number,
        policy_id=policy.pk,
        calendar_id=calendar.pk,
        timer_id=timer.pk,
        version=matrix.version,
        report_id=report.pk,
    )


def _side(slug: str, marker: str, copies: int) -> Side:
    from tenants.models import Customer
    from tenants.services import customer_onboard

    result = customer_onboard(actor=SYSTEM, name=f"Isolation {slug}", slug=slug, language="en")
    side = Side(slug=slug, schema=result.customer.schema_name, domain=result.domain, marker=marker)
    customer = Customer.objects.get(slug=slug)
    for scope in ("ingest", "read"):
        key = ApiKeyFactory(customer=customer, scopes=[scope])
        side.keys[scope] = key.plaintext
    side.params["public_id"] = key.public_id
    side.params["slug"] = slug
    with schema_context(side.schema):
        for name, role in CUSTOMER_ROLES.items():
            UserFactory(username=f"{slug}-u-{name}", role=role)
        _objects(side, copies)
    for name in CUSTOMER_ROLES:
        client = Client(HTTP_HOST=side.domain)
        login(client, f"{slug}-u-{name}", PASSWORD)
        side.sessions[name] = _session_key(client)
    return side


def world_build() -> World:
    world_drop(None)  # what an interrupted earlier run left behind
    a = _side("isoa", MARKER_A, copies=1)
    b = _side("isob", MARKER_B, copies=2)
    assert a.params["contact_id"] != b.params["contact_id"]
    staff_sessions = {}
    for name, role in STAFF_ROLES.items():
        UserFactory(username=f"iso-{name}", role=role)
        client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
        login(client, f"iso-{name}", PASSWORD)
        staff_sessions[name] = _session_key(client)
    target = UserFactory(username="iso-target", role=Role.ANALYST)
    return World(a=a, b=b, staff_sessions=staff_sessions, staff_user_id=target.pk)


def world_drop(world: World | None) -> None:
    from mdr.jobs.models import DueWork, FailedJob, Outbox, TimerIndex
    from tenants.constants import schema_name_for
    from tenants.models import ApiKey, Customer, Domain

    connection.set_schema_to_public()
    for slug in ("isoa", "isob"):
        schema = schema_name_for(slug)
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for model in (FailedJob, DueWork, TimerIndex, Outbox):
            model.objects.filter(schema_name=schema).delete()
        ApiKey.objects.filter(customer__slug=slug).delete()
        Domain.objects.filter(tenant__slug=slug).delete()
        Customer.objects.filter(slug=slug).delete()
    User.objects.filter(username__startswith="iso-").delete()
    SessionStore.clear_expired()
