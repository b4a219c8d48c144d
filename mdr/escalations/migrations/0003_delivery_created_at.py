from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0002_contactverification"),
    ]

    operations = [
        migrations.RenameField(model_name="delivery", old_name="at", new_name="created_at"),
    ]
