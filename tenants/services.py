"""Customer lifecycle: onboarding (one call), suspension, and the template schema new customers are cloned from.

Onboarding runs in one database transaction: the schema (cloned from the migrated template), the domain, the
customer admin, the placeholder contract, the ingest key and the audit rows either all exist afterwards or
none do. PostgreSQL's DDL is transactional, so a failure leaves no half-made schema behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django_tenants.utils import schema_context, schema_exists

from mdr.accounts.models import Role
from mdr.accounts.services import apikey_create, user_create
from mdr.audit.services import Actor, audit_record
from mdr.scope.services import contract_create_placeholder
from tenants.constants import RESERVED_SLUGS, SLUG_RE, CustomerStatus, schema_name_for
from tenants.models import Customer, Domain

log = logging.getLogger(__name__)

ONBOARD_LOCK = "tenants:onboard"


class OnboardingError(ValueError):
    """A refused onboarding request; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class OnboardResult:
    customer: Customer
    domain: str
    admin_username: str
    admin_password: str
    api_key: str

    def as_dict(self) -> dict:
        return {
            "id": self.customer.pk,
            "name": self.customer.name,
            "slug": self.customer.slug,
            "schema": self.customer.schema_name,
            "domain": self.domain,
            "url": customer_url(self.domain),
            "admin_username": self.admin_username,
            "admin_password": self.admin_password,
            "api_key": self.api_key,
        }


def customer_url(domain: str) -> str:
    port = settings.MDR_PUBLIC_PORT
    suffix = f":{port}" if port and port not in ("80", "443") else ""
    return f"{settings.MDR_PUBLIC_URL_SCHEME}://{domain}{suffix}/"


def current_customer_link(path: str = "") -> str | None:
    """An absolute link on the current schema's customer domain (workers run under ``schema_context``, so the
    domain is looked up, not taken from a request); None when the customer has no primary domain."""
    domain = (
        Domain.objects.filter(tenant__schema_name=connection.schema_name, is_primary=True)
        .values_list("domain", flat=True)
        .first()
    )
    if domain is None:
        return None
    return f"{customer_url(domain).rstrip('/')}/{path.lstrip('/')}"


def slug_validate(slug: str) -> str:
    """The schema name for ``slug``, or OnboardingError saying why the slug cannot be used."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise OnboardingError(
            "slug",
            gettext(
                "slug must be 2-40 characters of lowercase letters, digits and '-', "
                "starting with a letter and not ending with '-'"
            ),
        )
    if "--" in slug:
        raise OnboardingError("slug", gettext("slug must not contain '--'"))
    schema = schema_name_for(slug)
    if slug in RESERVED_SLUGS or schema in RESERVED_SLUGS or schema.startswith("pg_"):
        raise OnboardingError("slug", gettext("slug %(slug)s is reserved") % {"slug": repr(slug)})
    if schema == settings.TENANT_BASE_SCHEMA:
        raise OnboardingError("slug", gettext("slug %(slug)s is reserved") % {"slug": repr(slug)})
    return schema


def template_schema_ensure(*, verbosity: int = 0) -> bool:
    """Create and migrate the template schema new customers are cloned from. Returns True if it was created.

    Part of every deploy (``manage.py migrate_all``): a template behind the code would hand new customers an old
    schema.
    """
    name = settings.TENANT_BASE_SCHEMA
    created = False
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{name}"')
        created = True
    call_command("migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()
    return created


def customer_onboard(
    *,
    actor: Actor,
    name: str,
    slug: str,
    admin_email: str = "",
    admin_username: str | None = None,
    timezone_name: str = "Asia/Tokyo",
    language: str = "ja",
) -> OnboardResult:
    """Create a customer completely, or nothing at all."""
    name = (name or "").strip()
    if not name:
        raise OnboardingError("name", gettext("name must not be empty"))
    if len(name) > 200:
        raise OnboardingError("name", gettext("name must be at most 200 characters"))
    if language not in ("ja", "en"):
        raise OnboardingError("language", gettext("language must be 'ja' or 'en'"))
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(timezone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise OnboardingError(
            "timezone", gettext("unknown time zone %(timezone_name)s") % {"timezone_name": repr(timezone_name)}
        ) from exc
    schema = slug_validate(slug)
    domain_name = f"{slug}.{settings.MDR_BASE_DOMAIN}"
    admin_username = admin_username or f"{slug}-admin"

    connection.set_schema_to_public()
    with transaction.atomic():
        # Serialise onboardings: two requests for one slug must not both pass the checks below.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [ONBOARD_LOCK])
        if Customer.objects.filter(slug=slug).exists() or Customer.objects.filter(schema_name=schema).exists():
            raise OnboardingError("slug", gettext("slug %(slug)s is already taken") % {"slug": repr(slug)})
        if schema_exists(schema):
            raise OnboardingError(
                "slug", gettext("a schema named %(schema)s already exists") % {"schema": repr(schema)}
            )
        if Domain.objects.filter(domain=domain_name).exists():
            raise OnboardingError(
                "slug", gettext("domain %(domain_name)s is already taken") % {"domain_name": repr(domain_name)}
            )

        customer = Customer.objects.create(
            name=name, slug=slug, schema_name=schema, timezone=timezone_name, language=language
        )
        customer.create_schema(check_if_exists=False, verbosity=0)
        Domain.objects.create(domain=domain_name, tenant=customer, is_primary=True)
        audit_record(
            actor=actor,
            action="customer.onboard",
            target_type="customer",
            target_id=slug,
            data={"name": name, "schema": schema, "domain": domain_name},
        )
        with schema_context(schema):
            admin, password = user_create(
                actor=actor,
                username=admin_username,
                email=admin_email,
                role=Role.CUSTOMER_ADMIN,
                language=language,
            )
            contract_create_placeholder(
                actor=actor,
                customer_name=name,
                timezone=timezone_name,
                language=language,
                starts_on=timezone.localdate(),
            )
            from reports.services import report_schedule_next

            report_schedule_next()  # the monthly report drafts, through the due-work index
            from mdr.jobs.health import customer_health_touch

            customer_health_touch()  # its row on the console's customer list, filled in by a worker
            audit_record(
                actor=actor,
                action="customer.onboard",
                target_type="customer",
                target_id=slug,
                data={"name": name},
            )
        issued = apikey_create(actor=actor, customer=customer, name="Default ingest key", scopes=["ingest"])
    connection.set_schema_to_public()
    log.info("tenants.onboard.done", extra={"slug": slug, "schema": schema})
    return OnboardResult(
        customer=customer,
        domain=domain_name,
        admin_username=admin.username,
        admin_password=password,
        api_key=issued.plaintext,
    )


def customer_suspend(*, actor: Actor, customer: Customer, reason: str) -> Customer:
    """Stop the customer's logins, sessions and API keys at once (checked on every request)."""
    if customer.is_provider:
        raise OnboardingError("customer", gettext("the provider cannot be suspended"))
    if not reason.strip():
        raise OnboardingError("reason", gettext("a reason is required"))
    with transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(status=CustomerStatus.SUSPENDED, suspended_at=timezone.now())
        audit_record(
            actor=actor,
            action="customer.suspend",
            target_type="customer",
            target_id=customer.slug,
            data={"reason": reason},
        )
    customer.refresh_from_db()
    return customer


def customer_resume(*, actor: Actor, customer: Customer) -> Customer:
    if customer.status != CustomerStatus.SUSPENDED:
        raise OnboardingError(
            "customer", gettext("customer is %(status)s, not suspended") % {"status": customer.status}
        )
    with transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(status=CustomerStatus.ACTIVE, suspended_at=None)
        audit_record(actor=actor, action="customer.resume", target_type="customer", target_id=customer.slug)
    customer.refresh_from_db()
    return customer


def provider_ensure() -> Customer:
    """The public tenant row and the provider domain (``MDR_BASE_DOMAIN``); idempotent."""
    provider, _ = Customer.objects.get_or_create(
        schema_name="public", defaults={"name": "Provider", "slug": "provider"}
    )
    Domain.objects.get_or_create(domain=settings.MDR_BASE_DOMAIN, defaults={"tenant": provider, "is_primary": True})
    return provider
