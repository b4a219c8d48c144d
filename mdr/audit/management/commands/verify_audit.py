"""``manage.py verify_audit [--schema NAME ...]``: check the hash chain of every schema's audit log (public and each
customer's, or the ones named) and its anchor; prints one line per schema, then each problem naming the row.
Exits non-zero when any chain is broken (a modified row, deleted rows, a deleted tail, a missing anchor)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from mdr.audit.selectors import audit_chain_check


class Command(BaseCommand):
    help = "Verify the audit log's hash chain in every schema (or --schema ones): modified, deleted or missing rows."

    def add_arguments(self, parser):
        parser.add_argument("--schema", action="append", default=[], help="a schema to check (repeatable)")
        parser.add_argument("--max-problems", type=int, default=20, help="problems reported per schema")

    def handle(self, *args, schema: list[str], max_problems: int, **options):
        schemas = schema or [
            get_public_schema_name(),
            *get_tenant_model()
            .objects.exclude(schema_name=get_public_schema_name())
            .order_by("schema_name")
            .values_list("schema_name", flat=True),
        ]
        broken = 0
        for index, name in enumerate(schemas, start=1):
            with schema_context(name):
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT 1"
                    )  # the schema's search_path is set now, not as the transaction's first query
                outermost = not connection.in_atomic_block
                with transaction.atomic():
                    if outermost:  # one snapshot: rows and anchor seen at the same instant even while others append
                        with connection.cursor() as cursor:
                            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    report = audit_chain_check(max_problems=max_problems)
            status = "ok" if report.ok else f"BROKEN ({len(report.problems)} problem(s))"
            self.stdout.write(f"[{index}/{len(schemas)}] {name}: {report.rows} rows, {status}")
            for problem in report.problems:
                self.stdout.write(f"  {name}: {problem.message}")
            broken += not report.ok
        if broken:
            raise CommandError(f"audit chain broken in {broken} of {len(schemas)} schema(s)")
        self.stdout.write(f"audit chains intact in {len(schemas)} schema(s)")
