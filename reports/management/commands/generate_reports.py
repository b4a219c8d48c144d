"""Generate the monthly report drafts of one month, for every active customer or one, with a progress bar."""

import json

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context
from tqdm import tqdm

from mdr.audit.services import Actor
from reports.services import ReportError, month_parse, report_generate_monthly
from tenants.selectors import customer_list


class Command(BaseCommand):
    help = "Generate monthly report drafts (idempotent: an existing draft or published month is kept)."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM")
        parser.add_argument("--customer", help="one customer's slug (default: every active customer)")
        parser.add_argument("--lang", choices=["ja", "en"], help="default: the contract's report language")
        parser.add_argument("--reason", default="", help="make a new version of a published month, saying why")
        parser.add_argument("--json", action="store_true", help="one JSON line per customer instead of the bar")

    def handle(self, *args, **options):
        try:
            month = month_parse(options["month"])
        except ReportError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        customers = customer_list().filter(status="active")
        if options["customer"]:
            customers = customers.filter(slug=options["customer"])
            if not customers.exists():
                raise CommandError(f"customer: no active customer {options['customer']!r}")
        actor, failed = Actor.system("cli:generate_reports"), 0
        rows = list(customers.order_by("slug"))
        bar = tqdm(rows, unit="customer", disable=options["json"], file=self.stderr)
        for customer in bar:
            bar.set_postfix_str(customer.slug)
            with schema_context(customer.schema_name):
                try:
                    report, created = report_generate_monthly(
                        month=month, actor=actor, language=options["lang"], reason=options["reason"]
                    )
                    line = {
                        "customer": customer.slug,
                        "report": str(report.pk),
                        "version": report.version,
                        "state": report.state,
                        "created": created,
                    }
                except ReportError as exc:
                    failed += 1
                    line = {"customer": customer.slug, "error": {exc.field: exc.message}}
            if options["json"]:
                self.stdout.write(json.dumps(line))
            elif "error" in line:
                bar.write(f"{customer.slug}: {line['error']}")
        if failed:
            raise CommandError(f"{failed} of {len(rows)} customers failed")
