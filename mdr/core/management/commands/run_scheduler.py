"""Run the scheduler process (exactly one per deployment)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from mdr.scheduler import Scheduler, default_jobs


class Command(BaseCommand):
    help = "Enqueue periodic work (sweeps, relays, heartbeats) until stopped."

    def handle(self, *args, **options):
        Scheduler(default_jobs(), interval=settings.MDR_SCHEDULER_INTERVAL_SECONDS).run_forever()
