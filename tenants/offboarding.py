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
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext
from psycopg import sql

from mdr.audit.services import Actor, audit_record
from tenants.constants import CustomerStatus
from tenants.models import ApiKey, Customer

if TYPE_CHECKING:
    from mdr.jobs.models import OffboardingRun

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
        raise OffboardingError("customer", gettext("the provider's public schema cannot be exported as a customer"))
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise OffboardingError("export_to", gettext("%(directory)s is not empty") % {"directory": directory})
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
        raise OffboardingError("customer", gettext("the provider cannot be offboarded"))
    if customer.status == CustomerStatus.OFFBOARDED:
        raise OffboardingError("customer", gettext("%(slug)s is already offboarded") % {"slug": customer.slug})
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


# ---- from the console: requested by a provider admin, run by a worker ------------------------------------------


def _export_dir(customer: Customer, now) -> Path:
    from django.conf import settings

    return Path(settings.MDR_EXPORT_DIR) / f"{customer.slug}-{now:%Y%m%dT%H%M%SZ}"


def customer_offboard_request(*, actor: Actor, customer: Customer, confirm: str) -> OffboardingRun:
    """The console's offboarding: the provider admin typed the customer's slug; the run is recorded and handed to a
    worker (``customer_offboard_task``: a big customer's export takes long), which exports into
    ``MDR_EXPORT_DIR/<slug>-<timestamp>``, verifies, drops the schema and records the outcome on the run. One run at
    a time per customer (a partial unique index)."""
    from django.db import IntegrityError

    from mdr.jobs.models import OffboardingRun

    if customer.is_provider:
        raise OffboardingError("customer", gettext("the provider cannot be offboarded"))
    if customer.status == CustomerStatus.OFFBOARDED:
        raise OffboardingError("customer", gettext("%(slug)s is already offboarded") % {"slug": customer.slug})
    if (confirm or "").strip() != customer.slug:
        raise OffboardingError(
            "confirm", gettext("type the customer's slug (%(slug)s) to confirm") % {"slug": customer.slug}
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            run = OffboardingRun.objects.create(
                customer=customer,
                requested_by=actor.name[:200],
                requested_at=now,
                export_dir=str(_export_dir(customer, now)),
            )
            audit_record(
                actor=actor,
                action="customer.offboard.request",
                target_type="customer",
                target_id=customer.slug,
                data={"run": run.pk, "export": run.export_dir},
            )
            transaction.on_commit(lambda: _offboard_send(run.pk))
    except IntegrityError:
        raise OffboardingError(
            "customer", gettext("an offboarding of %(slug)s is already under way") % {"slug": customer.slug}
        ) from None
    return run


def _offboard_send(run_id: int) -> None:
    from tenants.tasks import customer_offboard_task

    customer_offboard_task.send(run_id)


def offboarding_run_execute(*, run_id: int) -> OffboardingRun | None:
    """The worker's part: claim the queued run (a redelivered message finds it taken and does nothing), offboard with
    the confirmation the admin gave, and record the export's manifest hash and row counts, or the error."""
    from mdr.jobs.models import OffboardingRun, OffboardingState, OpenRequestIndex

    now = timezone.now()
    claimed = OffboardingRun.objects.filter(pk=run_id, state=OffboardingState.QUEUED).update(
        state=OffboardingState.RUNNING, started_at=now
    )
    if not claimed:
        return None
    run = OffboardingRun.objects.select_related("customer").get(pk=run_id)
    customer = run.customer
    schema = customer.schema_name
    actor = Actor(type="provider_staff", name=run.requested_by)
    try:
        result = customer_offboard(
            actor=actor, customer=customer, export_to=Path(run.export_dir), confirm=customer.slug
        )
    except Exception as exc:  # recorded on the run for the admin; the customer stays suspended, the schema kept
        log.error("tenants.offboard.failed", extra={"slug": customer.slug, "run": run_id, "error": str(exc)[:300]})
        message = exc.message if isinstance(exc, OffboardingError) else f"{type(exc).__name__}: {exc}"
        OffboardingRun.objects.filter(pk=run_id).update(
            state=OffboardingState.FAILED, finished_at=timezone.now(), error=message[:4000]
        )
    else:
        OpenRequestIndex.objects.filter(schema_name=schema).delete()
        OffboardingRun.objects.filter(pk=run_id).update(
            state=OffboardingState.DONE,
            finished_at=timezone.now(),
            manifest_sha256=hashlib.sha256((result.directory / MANIFEST).read_bytes()).hexdigest(),
            row_counts=result.row_counts,
        )
    run.refresh_from_db()
    return run
