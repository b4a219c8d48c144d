"""Prove a timer's state from its history: replay its events and compare with the stored row."""

import json

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from mdr.sla.models import SlaTimer
from mdr.sla.services import timer_replay, timer_verify
from tenants.selectors import customer_list


class Command(BaseCommand):
    help = "Recompute SLA timers from their event history and report any difference with the stored state."

    def add_arguments(self, parser):
        parser.add_argument("customer", help="customer slug")
        parser.add_argument("--timer", type=int, help="one timer id (default: every timer of the customer)")

    def handle(self, *args, **options):
        customer = customer_list().filter(slug=options["customer"]).first()
        if customer is None:
            raise CommandError(f"customer: no customer {options['customer']!r}")
        bad = 0
        with schema_context(customer.schema_name):
            timers = SlaTimer.objects.order_by("pk")
            if options["timer"]:
                timers = timers.filter(pk=options["timer"])
                if not timers.exists():
                    raise CommandError(f"timer: no timer {options['timer']} for {customer.slug}")
            for timer in timers.iterator():
                problems = timer_verify(timer=timer)
                replayed = timer_replay(timer=timer)
                bad += bool(problems)
                self.stdout.write(
                    json.dumps(
                        {
                            "timer": timer.pk,
                            "state": replayed.state,
                            "elapsed_business_seconds": round(replayed.elapsed_business_seconds, 3),
                            "deadline": replayed.deadline.isoformat() if replayed.deadline else None,
                            "breached_at": replayed.breached_at.isoformat() if replayed.breached_at else None,
                            "consistent": not problems,
                            "problems": problems,
                        }
                    )
                )
        if bad:
            raise CommandError(f"{bad} timer(s) differ from their history")
