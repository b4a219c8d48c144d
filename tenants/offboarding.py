"""Offboarding: export every table of a customer's schema, verify the export, and only then drop the schema.

The export is one JSON Lines file per table (``COPY (SELECT row_to_json(t) ...) TO STDOUT``, read in one
REPEATABLE READ snapshot so the counts in the manifest are the counts of the files) plus ``manifest.json`` with
each file's row count and SHA-256. The customer's API keys (public schema) are exported too, as digests only.
Verification re-reads every file from disk, recounts its lines and recomputes its hash. The schema is dropped
only when that verification passed and the caller confirmed with the customer's slug.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from mdr.audit.services import Actor, audit_record
from tenants.constants import CustomerStatus
from tenants.models import ApiKey, Customer

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class OffboardingError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    manifest: dict

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: entry["rows"] for name, entry in self.manifest["tables"].items()}


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    lines = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines


def _schema_tables(schema: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            [schema],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy_json_lines(cursor, select: sql.Composable, path: Path) -> None:
    """Stream ``select``'s single JSON column into ``path``, one row per line, never the whole table in memory.

    COPY's text format would escape backslashes; CSV with quote and delimiter bytes that JSON never contains
    unescaped keeps the JSON bytes verbatim.
    """
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')").format(select)
    raw = cursor.cursor if hasattr(cursor, "cursor") else cursor
    with path.open("wb") as fh, raw.copy(statement) as copy:
        for block in copy:
            fh.write(block)


def customer_export(*, customer: Customer, directory: Path) -> ExportResult:
    """Write the export of ``customer`` into ``directory`` (which must be empty or absent)."""
    if customer.is_provider:
        raise OffboardingError("customer", "the provider's public schema cannot be exported as a customer")
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise OffboardingError("export_to", f"{directory} is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    schema = customer.schema_name
    tables: dict[str, dict] = {}
    connection.set_schema_to_public()
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:  # one snapshot for every table; inside a caller's transaction, that one is used
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for table in _schema_tables(schema):
            path = directory / f"{table}.jsonl"
            select = sql.SQL("SELECT row_to_json(t) FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table))
            _copy_json_lines(cursor, select, path)
            cursor.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
            tables[table] = {"file": path.name, "rows": cursor.fetchone()[0]}
        keys_path = directory / "public.tenants_apikey.jsonl"
        select = sql.SQL("SELECT row_to_json(k) FROM public.tenants_apikey k WHERE k.customer_id = {}").format(
            sql.Literal(customer.pk)
        )
        _copy_json_lines(cursor, select, keys_path)
        tables["public.tenants_apikey"] = {
            "file": keys_path.name,
            "rows": ApiKey.objects.filter(customer=customer).count(),
        }
    for entry in tables.values():
        entry["sha256"], _ = _sha256(directory / entry["file"])
    manifest = {
        "format_version": FORMAT_VERSION,
        "customer": {"id": customer.pk, "name": customer.name, "slug": customer.slug, "schema": schema},
        "exported_at": timezone.now().isoformat(),
        "tables": tables,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return ExportResult(directory=directory, manifest=manifest)


def export_verify(*, directory: Path) -> list[str]:
    """Problems found in an export directory (empty list: the export is complete and intact)."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        return [f"manifest unreadable: {exc}"]
    problems = []
    for table, entry in manifest.get("tables", {}).items():
        path = directory / entry["file"]
        if not path.exists():
            problems.append(f"{table}: file {entry['file']} missing")
            continue
        digest, lines = _sha256(path)
        if digest != entry["sha256"]:
            problems.append(f"{table}: SHA-256 mismatch")
        if lines != entry["rows"]:
            problems.append(f"{table}: {lines} lines in file, {entry['rows']} rows in manifest")
    return problems


def customer_offboard(*, actor: Actor, customer: Customer, export_to: Path, confirm: str | None) -> ExportResult:
    """Suspend, export, verify, then drop the schema; the customer row stays as an offboarded tombstone."""
    if customer.is_provider:
        raise OffboardingError("customer", "the provider cannot be offboarded")
    if customer.status == CustomerStatus.OFFBOARDED:
        raise OffboardingError("customer", f"{customer.slug} is already offboarded")
    with transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(status=CustomerStatus.SUSPENDED, suspended_at=timezone.now())
        audit_record(actor=actor, action="customer.offboard.start", target_type="customer", target_id=customer.slug)
    customer.refresh_from_db()
    result = customer_export(customer=customer, directory=export_to)
    problems = export_verify(directory=result.directory)
    if problems:
        raise OffboardingError("export_to", "export verification failed: " + "; ".join(problems))
    if confirm != customer.slug:
        log.info("tenants.offboard.exported_not_dropped", extra={"slug": customer.slug})
        return result
    schema = customer.schema_name
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Fire any deferred FK checks now: PostgreSQL refuses to drop tables with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
        ApiKey.objects.filter(customer=customer, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor.name[:200]
        )
        customer.domains.all().delete()
        Customer.objects.filter(pk=customer.pk).update(status=CustomerStatus.OFFBOARDED, offboarded_at=timezone.now())
        audit_record(
            actor=actor,
            action="customer.offboard.drop",
            target_type="customer",
            target_id=customer.slug,
            data={
                "schema": schema,
                "export": str(result.directory),
                "rows": result.row_counts,
                "manifest_sha256": hashlib.sha256((result.directory / MANIFEST).read_bytes()).hexdigest(),
            },
        )
    customer.refresh_from_db()
    return result
