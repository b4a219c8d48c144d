"""Send a synthetic, clearly marked test incident through the real path and report each step's time."""

import json

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from mdr.audit.services import Actor
from mdr.escalations.drill import fire_drill
from mdr.escalations.services import EscalationError
from tenants.selectors import customer_list


class Command(BaseCommand):
    help = "Fire drill: ingest -> incident -> escalation -> delivery (-> acknowledgement), timed."

    def add_arguments(self, parser):
        parser.add_argument("customer", help="customer slug")
        parser.add_argument("--auto-ack", action="store_true", help="acknowledge with the first link (tests)")
        parser.add_argument(
            "--inline", action="store_true", help="make the delivery attempts in this process (no worker running)"
        )
        parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the workers' deliveries")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        customer = customer_list().filter(slug=options["customer"]).first()
        if customer is None:
            raise CommandError(f"customer: no customer {options['customer']!r}")
        with schema_context(customer.schema_name):
            try:
                report = fire_drill(
                    actor=Actor.system("cli:fire_drill"),
                    auto_ack=options["auto_ack"],
                    inline=options["inline"],
                    wait_seconds=options["wait"],
                )
            except EscalationError as exc:
                raise CommandError(f"{exc.field}: {exc.message}") from exc
        if options["json"]:
            self.stdout.write(json.dumps({"ok": report.ok, "steps": report.steps}, ensure_ascii=False))
        else:
            for step, ms, detail in report.steps:
                self.stdout.write(f"{step:>16} {ms:>9.1f} ms  {detail}")
            self.stdout.write("OK" if report.ok else "FAILED")
        if not report.ok:
            raise CommandError("the drill did not reach the customer")
