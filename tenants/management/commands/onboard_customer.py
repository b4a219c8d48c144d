"""Onboard a customer in one call (schema, domain, admin user, placeholder contract, ingest key)."""

import json

from django.core.management.base import BaseCommand, CommandError

from mdr.audit.services import Actor
from tenants.services import OnboardingError, customer_onboard


class Command(BaseCommand):
    help = "Create a customer: schema (cloned from the template), domain, admin, contract placeholder, API key."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--admin-email", default="")
        parser.add_argument("--timezone", default="Asia/Tokyo")
        parser.add_argument("--language", default="ja", choices=["ja", "en"])
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        try:
            result = customer_onboard(
                actor=Actor.system("cli:onboard_customer"),
                name=options["name"],
                slug=options["slug"],
                admin_email=options["admin_email"],
                timezone_name=options["timezone"],
                language=options["language"],
            )
        except OnboardingError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        data = result.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        for key, value in data.items():
            self.stdout.write(f"{key:>15}: {value}")
        self.stdout.write("The password and API key are shown once; store them now.")
