"""The customer-health rollup (the console's customer list without entering every schema), and its backfill: a row
for every existing customer plus one due-work row each asking a worker to compute it. Set-based (two statements
whatever the number of customers); the figures themselves are computed by the workers inside each schema, so the
migration never loops over customer schemas."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
INSERT INTO jobs_customerhealth (customer_id, open_incidents, open_p1, silent_sources)
SELECT id, 0, 0, 0 FROM tenants_customer WHERE schema_name <> 'public' AND status <> 'offboarded'
ON CONFLICT (customer_id) DO NOTHING;
INSERT INTO jobs_duework (schema_name, kind, ref, due_at, created_at)
SELECT schema_name, 'customer_health_refresh_task', 'health', now(), now() FROM tenants_customer
WHERE schema_name <> 'public' AND status <> 'offboarded'
ON CONFLICT (schema_name, kind, ref) DO UPDATE SET due_at = LEAST(jobs_duework.due_at, EXCLUDED.due_at);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_backfill_open_requests"),
        ("tenants", "0002_customer_ingest_burst_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerHealth",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("open_incidents", models.PositiveIntegerField(default=0)),
                ("open_p1", models.PositiveIntegerField(default=0)),
                ("last_alert_at", models.DateTimeField(blank=True, help_text="newest alert received", null=True)),
                ("silent_sources", models.PositiveIntegerField(default=0, help_text="open coverage degradations")),
                (
                    "contract_end",
                    models.DateField(blank=True, help_text="the current contract's end; null: open-ended", null=True),
                ),
                (
                    "refreshed_at",
                    models.DateTimeField(blank=True, help_text="null: never computed (backfilled row)", null=True),
                ),
                (
                    "customer",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="health", to="tenants.customer"
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="timerindex",
            index=models.Index(
                condition=models.Q(("breached", True)), fields=["schema_name"], name="jobs_timerindex_breached_idx"
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
