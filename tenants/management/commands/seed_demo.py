"""Demo data for ``make run``: provider staff, two customers (acme, globex) with an admin and an ingest key each,
and an escalation contact and matrix each (so the console's fire drill works at once).

Idempotent: a second run creates nothing new. Passwords and keys are shown once by the services, so the
first run keeps them in ``.data/demo-credentials.json`` (mode 600) and later runs print them from there; a
key that was lost (file deleted) is replaced by a new one and the old one revoked.
"""

import json
import os

from django.conf import settings
from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from mdr.accounts.models import Role, User
from mdr.accounts.services import apikey_create, apikey_revoke, generate_password, user_create
from mdr.audit.services import Actor
from tenants.models import Customer
from tenants.services import customer_onboard, customer_url, provider_ensure

STAFF = [
    ("provider-admin", Role.PROVIDER_ADMIN),
    ("analyst", Role.ANALYST),
    ("account-manager", Role.ACCOUNT_MANAGER),
]
CUSTOMERS = [("acme", "Acme Corp", "ja"), ("globex", "Globex Corporation", "en")]
DEMO_KEY_NAME = "Demo ingest key"


class Command(BaseCommand):
    help = "Create the demo provider staff and customers (idempotent) and print their logins and keys."

    def handle(self, *args, **options):
        path = settings.MDR_DATA_DIR / "demo-credentials.json"
        creds = json.loads(path.read_text()) if path.exists() else {"staff": {}, "customers": {}}
        actor = Actor.system("seed_demo")
        provider_ensure()

        for username, role in STAFF:
            user = User.objects.filter(username=username).first()
            if user is None:
                _, password = user_create(
                    actor=actor,
                    username=username,
                    email=f"{username}@example.com",
                    role=role,
                    password=generate_password(),
                    language="en",
                )
                creds["staff"][username] = {"role": role, "password": password}
            elif username not in creds["staff"]:  # credentials file lost: set a new password
                password = generate_password()
                user.set_password(password)
                user.save(update_fields=["password"])
                creds["staff"][username] = {"role": role, "password": password}

        for slug, name, language in CUSTOMERS:
            customer = Customer.objects.filter(slug=slug).first()
            if customer is None:
                result = customer_onboard(
                    actor=actor, name=name, slug=slug, admin_email=f"admin@{slug}.example", language=language
                )
                creds["customers"][slug] = {
                    "admin_username": result.admin_username,
                    "admin_password": result.admin_password,
                    "api_key": result.api_key,
                    "domain": result.domain,
                }
                continue
            entry = creds["customers"].setdefault(slug, {"domain": customer.get_primary_domain().domain})
            if "api_key" not in entry:
                for key in customer.api_keys.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True):
                    apikey_revoke(actor=actor, key=key)
                entry["api_key"] = apikey_create(
                    actor=actor, customer=customer, name=DEMO_KEY_NAME, scopes=["ingest", "read"]
                ).plaintext
            if "admin_password" not in entry:
                with schema_context(customer.schema_name):
                    admin = User.objects.filter(role=Role.CUSTOMER_ADMIN).order_by("id").first()
                    password = generate_password()
                    admin.set_password(password)
                    admin.save(update_fields=["password"])
                entry.update(admin_username=admin.username, admin_password=password)

        for slug, _name, language in CUSTOMERS:
            with schema_context(Customer.objects.get(slug=slug).schema_name):
                _escalation_defaults(actor, slug, language)

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(creds, indent=2))
        os.chmod(path, 0o600)
        self._print(creds)

    def _print(self, creds):
        w = self.stdout.write
        w("")
        w(f"Provider console: {customer_url(settings.MDR_BASE_DOMAIN)}")
        for username, entry in creds["staff"].items():
            w(f"  {entry['role']:<16} {username} / {entry['password']}")
        for slug, entry in creds["customers"].items():
            w(f"Portal {slug}: {customer_url(entry['domain'])}")
            w(f"  customer_admin   {entry['admin_username']} / {entry['admin_password']}")
            w(f"  API key          {entry['api_key']}")
        w(f"(kept in {settings.MDR_DATA_DIR / 'demo-credentials.json'})")
        w("")


def _escalation_defaults(actor: Actor, slug: str, language: str) -> None:
    """A CSIRT duty contact and a one-level matrix (P3 and above, repeated twice), unless the customer has one."""
    from mdr.escalations.contacts import contact_create
    from mdr.escalations.models import EscalationMatrix
    from mdr.escalations.services import matrix_publish

    if EscalationMatrix.objects.exists():
        return
    contact, _secret = contact_create(
        actor=actor,
        data={"name": "CSIRT duty", "role": "24/7 duty", "email": f"csirt@{slug}.example", "language": language},
    )
    matrix_publish(
        actor=actor,
        rules=[
            {
                "min_priority": "P3",
                "repeat": 2,
                "levels": [{"contacts": [contact.pk], "channels": ["email"], "wait_minutes": 15}],
            }
        ],
    )
