"""Offboard a customer: export everything, verify the export, then (with --confirm SLUG) drop the schema."""

import json

from django.core.management.base import BaseCommand, CommandError

from mdr.audit.services import Actor
from tenants.offboarding import OffboardingError, customer_offboard
from tenants.selectors import customer_list


class Command(BaseCommand):
    help = "Export a customer's data (JSON Lines + manifest) and drop its schema once the export verified."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--export-to", required=True, help="empty or new directory for the export")
        parser.add_argument("--confirm", default=None, help="repeat the slug to drop the schema after export")

    def handle(self, *args, **options):
        customer = customer_list().filter(slug=options["slug"]).first()
        if customer is None:
            raise CommandError(f"slug: no customer {options['slug']!r}")
        try:
            result = customer_offboard(
                actor=Actor.system("cli:offboard_customer"),
                customer=customer,
                export_to=options["export_to"],
                confirm=options["confirm"],
            )
        except OffboardingError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        dropped = options["confirm"] == customer.slug
        self.stdout.write(
            json.dumps(
                {
                    "slug": customer.slug,
                    "export": str(result.directory),
                    "tables": result.row_counts,
                    "schema_dropped": dropped,
                }
            )
        )
        if not dropped:
            self.stderr.write(
                f"Export verified; schema kept. Rerun into a new directory with --confirm "
                f"{customer.slug} to drop it (the customer stays suspended)."
            )
