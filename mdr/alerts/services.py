"""Writes to alerts: ingest (set-based, one transaction per request) and the processing of ingested batches.

Ingest, per request: normalise every item (per-item errors never cost the others), collapse duplicates
within the batch, COPY the unique rows into a session-local staging table, then one
``INSERT ... SELECT ... ON CONFLICT (dedup_key) DO UPDATE`` bumps occurrence counts of known alerts and returns
which rows were new. The outbox row announcing the new alerts and the idempotency record commit in the same
transaction; the processing message is sent after commit, and the outbox relay re-sends it if Redis did not
take it. Nothing accepted is lost.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mdr.alerts.adapters import AdapterError, NormalizedAlert, normalize
from mdr.alerts.models import Alert, IdempotencyRecord
from mdr.alerts.parsing import RawItem
from mdr.alerts.pipeline import run_pipeline
from mdr.jobs.models import FailedJob, Outbox
from mdr.jobs.services import outbox_send

log = logging.getLogger(__name__)

TOPIC_PROCESS = "alerts_process"  # outbox topics are actor names
STAGE_TABLE = "mdr_alert_stage"
# (column, SQL type) of what ingest writes; the rest of the Alert columns get constants in the INSERT.
STAGE_COLUMNS: list[tuple[str, str]] = [
    ("id", "uuid"),
    ("dedup_key", "varchar(100)"),
    ("source_format", "varchar(32)"),
    ("source_product", "varchar(255)"),
    ("source_vendor", "varchar(255)"),
    ("external_id", "varchar(255)"),
    ("title", "varchar(500)"),
    ("description", "text"),
    ("severity_id", "smallint"),
    ("severity_raw", "varchar(255)"),
    ("category", "varchar(255)"),
    ("rule_id", "varchar(255)"),
    ("rule_name", "varchar(255)"),
    ("tactics", "varchar(255)[]"),
    ("techniques", "varchar(255)[]"),
    ("observed_at", "timestamptz"),
    ("observed_offset_minutes", "smallint"),
    ("received_at", "timestamptz"),
    ("hosts", "varchar(255)[]"),
    ("ips", "inet[]"),
    ("users", "varchar(255)[]"),
    ("cloud_provider", "varchar(255)"),
    ("cloud_account", "varchar(255)"),
    ("cloud_region", "varchar(255)"),
    ("raw", "jsonb"),
    ("occurrence_count", "integer"),
    ("first_seen_at", "timestamptz"),
    ("last_seen_at", "timestamptz"),
    ("api_key_public_id", "varchar(16)"),
]
_COLS = ", ".join(c for c, _ in STAGE_COLUMNS)
CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} ("
    + ", ".join(f"{c} {t}" for c, t in STAGE_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
COPY_STAGE = f"COPY pg_temp.{STAGE_TABLE} ({_COLS}) FROM STDIN"
# Columns ingest fills with constants (the processing pipeline sets them later), and those constants.
CONSTANT_COLUMNS = {
    "status": "'new'",
    "scope_status": "'pending'",
    "priority": "''",
    "scope_reason": "''",
    "criticality": "''",
    "remediation_allowed": "false",
}
_CONST_COLS = ", ".join(CONSTANT_COLUMNS)
_CONST_VALUES = ", ".join(CONSTANT_COLUMNS.values())
_ON_CONFLICT = """
ON CONFLICT (dedup_key) DO UPDATE SET
    occurrence_count = alerts_alert.occurrence_count + EXCLUDED.occurrence_count,
    first_seen_at = LEAST(alerts_alert.first_seen_at, EXCLUDED.first_seen_at),
    last_seen_at = GREATEST(alerts_alert.last_seen_at, EXCLUDED.last_seen_at)
RETURNING id, dedup_key, (xmax = 0) AS inserted
"""
MERGE_STAGE = (
    f"INSERT INTO alerts_alert ({_COLS}, {_CONST_COLS}) "
    f"SELECT {_COLS}, {_CONST_VALUES} FROM pg_temp.{STAGE_TABLE} ORDER BY dedup_key" + _ON_CONFLICT
)
# Up to this many unique rows go in one multi-row INSERT (one round trip, no staging table); more go through
# COPY, which is faster per row and has no limit on parameters.
DIRECT_INSERT_MAX_ROWS = 50
_ROW_PLACEHOLDERS = "(" + ", ".join(f"%s::{t}" for _, t in STAGE_COLUMNS) + f", {_CONST_VALUES})"


def _insert_direct_sql(rows: int) -> str:
    values = ", ".join([_ROW_PLACEHOLDERS] * rows)
    return f"INSERT INTO alerts_alert ({_COLS}, {_CONST_COLS}) VALUES {values}" + _ON_CONFLICT


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


@dataclass(frozen=True)
class IdempotencyRequest:
    key: str
    request_sha256: str

    @classmethod
    def for_request(cls, key: str, *, body: bytes, fmt: str | None, content_type: str) -> IdempotencyRequest:
        digest = hashlib.sha256()
        for part in (fmt or "", content_type or "", ""):
            digest.update(part.encode() + b"\x00")
        digest.update(body)
        return cls(key=key, request_sha256=digest.hexdigest())


@dataclass
class IngestResult:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    outbox_id: int | None = None
    created_ids: list[str] = field(default_factory=list)


def _uuid7():
    """Time-ordered UUID (RFC 9562 v7): new rows land at the right edge of the primary-key index."""
    import os
    import time
    import uuid

    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def _raw_json(alert: NormalizedAlert, item: RawItem) -> str:
    """The raw payload as JSON text for the jsonb column (PostgreSQL's jsonb cannot hold \\u0000)."""
    dumped = item.dumped if alert.raw is item.value and item.dumped is not None else orjson.dumps(alert.raw)
    if b"\\u0000" in dumped:
        dumped = orjson.dumps(_strip_nul(orjson.loads(dumped)))
    return dumped.decode("utf-8")


def idempotency_lookup(request: IdempotencyRequest) -> IngestResult | None:
    """The stored first response for this key, None if unseen; IdempotencyConflict if the request differs."""
    fresh_after = timezone.now() - timedelta(hours=settings.MDR_IDEMPOTENCY_TTL_HOURS)
    record = IdempotencyRecord.objects.filter(key=request.key, created_at__gte=fresh_after).first()
    if record is None:
        return None
    if record.request_sha256 != request.request_sha256:
        raise IdempotencyConflict(request.key)
    return IngestResult(status_code=record.status_code, body=record.response, replayed=True)


def alert_ingest(
    *,
    items: list[RawItem],
    fmt: str | None,
    received_at: datetime,
    api_key_public_id: str = "",
    idempotency: IdempotencyRequest | None = None,
) -> IngestResult:
    """Normalise, deduplicate and persist ``items`` in the current customer schema; see the module docstring."""
    if idempotency is not None:
        previous = idempotency_lookup(idempotency)
        if previous is not None:
            return previous

    rejected: list[dict] = []
    normalised: list[tuple[RawItem, NormalizedAlert]] = []
    for item in items:
        if item.error is not None:
            rejected.append({"index": item.index, "errors": item.error})
            continue
        try:
            normalised.append((item, normalize(item.value, fmt)))
        except AdapterError as exc:
            rejected.append({"index": item.index, "errors": exc.errors})

    # Collapse duplicates inside the batch: the first occurrence is the row, the others add to its count.
    groups: dict[str, list[int]] = {}
    rows: dict[str, list] = {}
    for position, (item, alert) in enumerate(normalised):
        members = groups.setdefault(alert.dedup_key, [])
        members.append(position)
        if len(members) == 1:
            rows[alert.dedup_key] = [
                _uuid7(), alert.dedup_key, alert.source_format, alert.source_product, alert.source_vendor,
                alert.external_id, alert.title, alert.description, alert.severity_id, alert.severity_raw,
                alert.category, alert.rule_id, alert.rule_name, alert.tactics, alert.techniques, alert.observed_at,
                alert.observed_offset_minutes, received_at, alert.hosts, alert.ips, alert.users, alert.cloud_provider,
                alert.cloud_account, alert.cloud_region, _raw_json(alert, item), 1, alert.observed_at,
                alert.observed_at, api_key_public_id,
            ]  # fmt: skip
        else:
            row = rows[alert.dedup_key]
            row[25] += 1
            row[26] = min(row[26], alert.observed_at)
            row[27] = max(row[27], alert.observed_at)

    nested = connection.in_atomic_block
    with transaction.atomic():
        returned: dict[str, tuple[str, bool]] = {}
        with connection.cursor() as cursor:
            ordered = [rows[key] for key in sorted(rows)]  # one lock order for all writers: no deadlocks
            if 0 < len(ordered) <= DIRECT_INSERT_MAX_ROWS:
                cursor.execute(_insert_direct_sql(len(ordered)), [value for row in ordered for value in row])
            elif ordered:
                cursor.execute(CREATE_STAGE)
                if nested:  # the table empties itself at commit; inside a caller's transaction it may not be yet
                    cursor.execute(f"TRUNCATE pg_temp.{STAGE_TABLE}")
                with cursor.cursor.copy(COPY_STAGE) as copy:
                    for row in ordered:
                        copy.write_row(row)
                cursor.execute(MERGE_STAGE)
            if ordered:
                returned = {key: (str(pk), inserted) for pk, key, inserted in cursor.fetchall()}

        results: list[dict] = []
        created_ids: list[str] = []
        for key, positions in groups.items():
            pk, inserted = returned[key]
            for n, position in enumerate(positions):
                status = "created" if inserted and n == 0 else "duplicate"
                if status == "created":
                    created_ids.append(pk)
                results.append({"index": normalised[position][0].index, "id": pk, "status": status})
        results.sort(key=lambda r: r["index"])
        rejected.sort(key=lambda r: r["index"])
        body = {
            "accepted": len(created_ids),
            "duplicates": len(results) - len(created_ids),
            "rejected": rejected,
            "alerts": results,
        }
        outbox = None
        if created_ids:
            outbox = Outbox.objects.create(
                schema_name=connection.schema_name,
                topic=TOPIC_PROCESS,
                payload={"alert_ids": created_ids},
                sent_at=timezone.now(),  # premarked: sent right after commit (see outbox_send)
            )
        if idempotency is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO alerts_idempotencyrecord (key, request_sha256, status_code, response, created_at) "
                    "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (key) DO UPDATE SET "
                    "request_sha256 = EXCLUDED.request_sha256, status_code = EXCLUDED.status_code, "
                    "response = EXCLUDED.response, created_at = EXCLUDED.created_at "
                    "WHERE alerts_idempotencyrecord.created_at < now() - make_interval(hours => %s) RETURNING id",
                    [
                        idempotency.key,
                        idempotency.request_sha256,
                        202,
                        orjson.dumps(body).decode(),
                        settings.MDR_IDEMPOTENCY_TTL_HOURS,
                    ],
                )
                won = cursor.fetchone() is not None
                if won and secrets.randbelow(settings.MDR_IDEMPOTENCY_PRUNE_EVERY) == 0:
                    # Now and then, drop expired records of this customer (indexed on created_at): storage stays
                    # bounded without a periodic job that would loop over every customer.
                    cursor.execute(
                        "DELETE FROM alerts_idempotencyrecord WHERE created_at < now() - make_interval(hours => %s)",
                        [settings.MDR_IDEMPOTENCY_TTL_HOURS],
                    )
            if not won:
                # A concurrent request with the same key committed first: ours never happened, theirs is the answer.
                transaction.set_rollback(True)
        else:
            won = True
        if won and outbox is not None:
            # After commit; if Redis does not take it, the relay will (the row is committed either way).
            transaction.on_commit(lambda: outbox_send(outbox=outbox, premarked=True))
    if not won:
        previous = idempotency_lookup(idempotency)
        assert previous is not None
        return previous
    log.info(
        "alerts.ingest.done",
        extra={"schema": connection.schema_name, "new_alerts": len(created_ids), "rejected_items": len(rejected)},
    )
    return IngestResult(status_code=202, body=body, outbox_id=outbox.pk if outbox else None, created_ids=created_ids)


# ---- processing ------------------------------------------------------------------------------------------


def alert_batch_process(*, outbox_id: int) -> str:
    """Run the processing pipeline over the alerts an outbox row announced. Idempotent, at-least-once safe.

    Keeps its own attempt count on the outbox row: an error is re-raised (the broker retries) until
    ``MDR_JOB_MAX_ATTEMPTS``, then the work is recorded in FailedJob and never retried again.
    Returns what happened: "done", "already_done", "failed" or "wrong_tenant".
    """
    schema = connection.schema_name
    with transaction.atomic():
        claimed = (
            Outbox.objects.select_for_update()
            .filter(pk=outbox_id, processed_at__isnull=True, failed_at__isnull=True)
            .first()
        )
        if claimed is None:
            return "already_done"
        if claimed.schema_name != schema:
            log.error("alerts.process.wrong_tenant", extra={"outbox": outbox_id, "schema": schema})
            return "wrong_tenant"
        claimed.attempts += 1
        claimed.save(update_fields=["attempts"])
    attempts = claimed.attempts
    try:
        with transaction.atomic():
            alerts = list(
                Alert.objects.select_for_update()
                .filter(pk__in=claimed.payload.get("alert_ids", []), processed_at__isnull=True)
                .order_by("pk")
            )
            run_pipeline(alerts)
            if alerts:
                from mdr.jobs.health import customer_health_touch

                customer_health_touch()  # the console's customer list: one coalesced refresh per burst
            Outbox.objects.filter(pk=outbox_id).update(processed_at=timezone.now(), last_error="")
        return "done"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempts >= settings.MDR_JOB_MAX_ATTEMPTS:
            with transaction.atomic():
                Outbox.objects.filter(pk=outbox_id).update(failed_at=timezone.now(), last_error=error)
                FailedJob.objects.create(
                    outbox_id=outbox_id, schema_name=schema, topic=claimed.topic, attempts=attempts, error=error
                )
            log.error("alerts.process.gave_up", extra={"outbox": outbox_id, "attempts": attempts, "error": error})
            return "failed"
        Outbox.objects.filter(pk=outbox_id).update(last_error=error)
        raise
