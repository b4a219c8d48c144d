"""Onboarding time in a database that already holds many customers: ``customer_onboard`` as it runs (the template
copied by SQL replay, tenants/schema_copy.py), timed for ``--probes`` new customers that are dropped again.

Run from the repository root against the 2,000-customer database of bench/tenants.py, then against a small one::

    .venv/bin/python bench/onboarding.py --database mdr_bench_tenants            # about 2,000 customers
    .venv/bin/python bench/onboarding.py --database mdr --pad 8                  # the demo database, padded to 10

``--pad N`` first onboards N extra customers (dropped at the end) so the small case has 10. The first onboarding of a
process renders the template's script (``pg_dump`` of the template): reported apart. Prints the figures, then as the
last line one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="mdr_bench_tenants")
    parser.add_argument("--probes", type=int, default=5)
    parser.add_argument("--pad", type=int, default=0)
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
        REDIS_URL="redis://127.0.0.1:6379/7",
        MDR_DRAMATIQ_NAMESPACE="mdr-bench-onboarding",
        DJANGO_SETTINGS_MODULE="mdr.settings",
    )
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.db import connection

    from mdr.audit.services import Actor
    from mdr.jobs.models import DueWork
    from tenants.models import ApiKey, Customer, Domain
    from tenants.schema_copy import template_script
    from tenants.services import customer_onboard

    actor = Actor.system("bench-onboarding")

    def onboard(slug: str):
        result = customer_onboard(actor=actor, name=slug, slug=slug, language="en")
        connection.set_schema_to_public()
        return result.customer

    def drop(customer) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{customer.schema_name}" CASCADE')
        DueWork.objects.filter(schema_name=customer.schema_name).delete()
        ApiKey.objects.filter(customer=customer).delete()
        Domain.objects.filter(tenant=customer).delete()
        Customer.objects.filter(pk=customer.pk).delete()

    started = time.perf_counter()
    rendered = template_script() is not None
    render_s = time.perf_counter() - started
    padding = [onboard(f"bench-pad-{i}") for i in range(args.pad)]
    existing = Customer.objects.exclude(schema_name="public").count()
    times = []
    try:
        for i in range(args.probes):
            started = time.perf_counter()
            customer = onboard(f"bench-probe-{i}")
            times.append((time.perf_counter() - started) * 1000)
            drop(customer)
    finally:
        for customer in padding:
            drop(customer)
    median = statistics.median(times)
    print(f"template script rendered: {rendered} in {render_s:.2f}s (once per process and template state)")
    print(f"onboarding with {existing} customers: {[round(t) for t in times]} ms, median {median:.0f} ms")
    print(
        json.dumps(
            {
                "bench": "onboarding",
                "database": args.database,
                "existing_customers": existing,
                "copy": "replay" if rendered else "clone",
                "render_script_s": round(render_s, 2),
                "onboard_ms": [round(t, 1) for t in times],
                "onboard_ms_median": round(median, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
