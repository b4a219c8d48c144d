"""``manage.py encryption_rotate``: re-encrypt every stored secret (each encrypted model field, in every customer
schema and public) with the first key of ``MDR_ENCRYPTION_KEYS``. Rotation: put a new key first, deploy, run this,
then drop the old key. Prints counts only, never values."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from mdr.core import crypto


def _encrypted_columns() -> list[tuple[str, str, list[str]]]:
    found = []
    for model in apps.get_models():
        columns = [f.column for f in model._meta.concrete_fields if isinstance(f, crypto.EncryptedMixin)]
        if columns:
            found.append((model._meta.app_label, model._meta.db_table, columns))
    return found


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the first key of MDR_ENCRYPTION_KEYS, in every schema."

    def handle(self, *args, **options):
        shared = set(settings.SHARED_APPS)
        schemas = [
            get_public_schema_name(),
            *get_tenant_model()
            .objects.exclude(schema_name=get_public_schema_name())
            .values_list("schema_name", flat=True),
        ]
        total = 0
        for schema in schemas:
            with schema_context(schema), transaction.atomic(), connection.cursor() as cursor:
                for app_label, table, columns in _encrypted_columns():
                    in_public = apps.get_app_config(app_label).name in shared
                    if in_public != (schema == get_public_schema_name()):
                        continue  # a shared app's tables are in public, a tenant app's in each customer schema
                    cursor.execute(f"SELECT id, {', '.join(columns)} FROM {table} FOR UPDATE")  # noqa: S608
                    for pk, *values in cursor.fetchall():
                        new = [crypto.rotate(v) if v else v for v in values]
                        if new != values:
                            sets = ", ".join(f"{c} = %s" for c in columns)
                            cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*new, pk])  # noqa: S608
                            total += 1
            self.stdout.write(f"{schema}: done")
        self.stdout.write(f"re-encrypted {total} row(s) in {len(schemas)} schema(s)")
