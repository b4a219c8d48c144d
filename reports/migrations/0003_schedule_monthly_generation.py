"""Existing customers get their monthly report generation scheduled (new customers are scheduled at onboarding:
their schema is cloned from the template, whose migrations do not run again). Runs in each customer schema;
the template schema has no customer row, so it schedules nothing."""

from django.db import migrations

FORWARD = """
INSERT INTO public.jobs_duework (schema_name, kind, ref, due_at, created_at)
SELECT c.schema_name, 'report_generate_task', 'monthly',
       (date_trunc('month', now() AT TIME ZONE c.timezone) + interval '1 month' + interval '6 hours')
           AT TIME ZONE c.timezone,
       now()
FROM public.tenants_customer c
WHERE c.schema_name = current_schema()
ON CONFLICT (schema_name, kind, ref) DO NOTHING;
"""

BACKWARD = """
DELETE FROM public.jobs_duework WHERE schema_name = current_schema() AND kind = 'report_generate_task';
"""


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_published_reports_frozen")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
