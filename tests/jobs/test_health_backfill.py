"""The customer-health backfill (migration 0007): a row for every existing customer and one due refresh each, in
set-based statements (no loop over customer schemas); offboarded customers and the provider's row are left out."""

import importlib

from django.db import connection
from django.utils import timezone

from mdr.jobs.health import HEALTH_ACTOR, HEALTH_REF
from mdr.jobs.models import CustomerHealth, DueWork
from tenants.models import Customer

migration = importlib.import_module("mdr.jobs.migrations.0007_customerhealth")


def test_the_backfill_gives_every_customer_a_row_and_a_due_refresh(acme, globex):
    # given customers without a health row, one offboarded, and acme's refresh already pending for later
    CustomerHealth.objects.all().delete()
    DueWork.objects.filter(kind=HEALTH_ACTOR).delete()
    Customer.objects.create(schema_name="gone", name="Gone", slug="gone", status="offboarded")
    later = timezone.now() + timezone.timedelta(hours=1)
    DueWork.objects.create(schema_name="acme", kind=HEALTH_ACTOR, ref=HEALTH_REF, due_at=later)
    # when the migration's statements run (twice: re-running is harmless)
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
        cursor.execute(migration.BACKFILL)
    # then acme and globex have an empty row (never computed) and a refresh due now; nothing for the others
    rows = {h.customer.schema_name: h for h in CustomerHealth.objects.select_related("customer")}
    assert set(rows) == {"acme", "globex"}
    assert rows["acme"].refreshed_at is None and rows["acme"].open_incidents == 0
    due = dict(DueWork.objects.filter(kind=HEALTH_ACTOR, ref=HEALTH_REF).values_list("schema_name", "due_at"))
    assert set(due) == {"acme", "globex"}
    assert due["acme"] <= timezone.now()  # moved earlier, so the sweep picks it up at once
