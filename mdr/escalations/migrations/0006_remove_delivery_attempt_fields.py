# Separate from the data step: PostgreSQL refuses ALTER TABLE on a table with pending trigger events.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0005_delivery_attempts_from_rows"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="delivery",
            name="error",
        ),
        migrations.RemoveField(
            model_name="delivery",
            name="ok",
        ),
        migrations.RemoveField(
            model_name="delivery",
            name="status_code",
        ),
    ]
