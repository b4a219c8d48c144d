"""Fill the index of open customer requests with the change proposals that were already pending when it was created
(from then on the proposal services keep it). A one-time pass over the customer schemas; a schema without the
proposals table (not migrated yet, or the template) is skipped."""

from django.db import migrations
from psycopg import sql


def backfill(apps, schema_editor):
    Customer = apps.get_model("tenants", "Customer")
    OpenRequestIndex = apps.get_model("jobs", "OpenRequestIndex")
    rows = []
    with schema_editor.connection.cursor() as cursor:
        for schema in Customer.objects.exclude(schema_name="public").values_list("schema_name", flat=True):
            cursor.execute("SELECT to_regclass(%s)", [f'"{schema}".escalations_changeproposal'])
            if cursor.fetchone()[0] is None:
                continue
            query = sql.SQL("SELECT id, kind, proposed_at FROM {}.escalations_changeproposal WHERE state = %s")
            cursor.execute(query.format(sql.Identifier(schema)), ["pending"])
            rows += [
                OpenRequestIndex(schema_name=schema, kind="proposal", ref=str(pk), subject=kind, created_at=at)
                for pk, kind, at in cursor.fetchall()
            ]
    OpenRequestIndex.objects.bulk_create(rows, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_offboardingrun"),
        ("tenants", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
