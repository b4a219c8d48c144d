"""The deploy-time migration step: public schema, then the template, then every customer schema.

Resumable: each schema is migrated on its own, and a rerun only applies what is missing. Customer schemas
run through django-tenants' executor (``--executor subprocess --parallel N`` for large fleets).
"""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

from tenants.services import provider_ensure, template_schema_ensure


class Command(BaseCommand):
    help = "Migrate public, the template schema and all customer schemas, in that order."

    def add_arguments(self, parser):
        parser.add_argument("--executor", default="standard", choices=["standard", "multiprocessing", "subprocess"])
        parser.add_argument("--parallel", type=int, default=None)

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        started = time.monotonic()
        self.stdout.write("migrate_all: public schema")
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        provider_ensure()
        self.stdout.write("migrate_all: template schema")
        template_schema_ensure(verbosity=verbosity)
        self.stdout.write("migrate_all: customer schemas")
        extra = {"parallel": options["parallel"]} if options["parallel"] else {}
        call_command(
            "migrate_schemas",
            tenant=True,
            interactive=False,
            verbosity=verbosity,
            executor=options["executor"],
            **extra,
        )
        self.stdout.write(f"migrate_all: done in {time.monotonic() - started:.1f}s")
