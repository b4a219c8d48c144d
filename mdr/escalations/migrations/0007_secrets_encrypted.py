"""Contacts' webhook signing secrets and chat webhook URLs encrypted at rest (mdr/core/crypto.py): the columns become
``text`` (tokens are longer than the values) and the values already stored are encrypted in place, in every schema.
Values that already look like tokens are left alone, so running it again changes nothing. Backwards: decrypted."""

from django.db import migrations

import mdr.core.crypto

COLUMNS = ("webhook_secret", "webhook_secret_previous", "slack_webhook_url", "teams_webhook_url")


def _convert(schema_editor, transform, wanted) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(COLUMNS)} FROM escalations_contact")  # noqa: S608 -- fixed names
        for row in cursor.fetchall():
            pk, values = row[0], row[1:]
            changed = {
                column: transform(value)
                for column, value in zip(COLUMNS, values, strict=True)
                if value and wanted(value)
            }
            if changed:
                assignments = ", ".join(f"{column} = %s" for column in changed)
                cursor.execute(
                    f"UPDATE escalations_contact SET {assignments} WHERE id = %s",  # noqa: S608 -- fixed names
                    [*changed.values(), pk],
                )


def encrypt_stored(apps, schema_editor):
    _convert(schema_editor, mdr.core.crypto.encrypt, lambda value: not value.startswith(mdr.core.crypto.TOKEN_PREFIX))


def decrypt_stored(apps, schema_editor):
    _convert(schema_editor, mdr.core.crypto.decrypt, lambda value: value.startswith(mdr.core.crypto.TOKEN_PREFIX))


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0006_remove_delivery_attempt_fields"),
    ]

    operations = [
        migrations.AlterField(
            model_name="contact",
            name="slack_webhook_url",
            field=mdr.core.crypto.EncryptedURLField(blank=True),
        ),
        migrations.AlterField(
            model_name="contact",
            name="teams_webhook_url",
            field=mdr.core.crypto.EncryptedURLField(blank=True),
        ),
        migrations.AlterField(
            model_name="contact",
            name="webhook_secret",
            field=mdr.core.crypto.EncryptedCharField(blank=True, max_length=100),
        ),
        migrations.AlterField(
            model_name="contact",
            name="webhook_secret_previous",
            field=mdr.core.crypto.EncryptedCharField(blank=True, help_text="still signed with until", max_length=100),
        ),
        migrations.RunPython(encrypt_stored, decrypt_stored),
    ]
