"""The outbox relay: hands committed work to the broker, again and again until it is processed.

Runs in the scheduler process (not in a worker: when Redis was down, nothing could have been enqueued to run
it). One query over the partial index of pending rows, so its cost follows the pending work, not the number
of customers. Each message is sent from inside the row's customer schema, so the tenant middleware stamps
it with that schema; the topic is the dramatiq actor's name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import dramatiq
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from mdr.jobs.models import DueWork, Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayResult:
    sent: int
    failed: int


def outbox_send(*, outbox: Outbox, premarked: bool = False) -> bool:
    """Send one outbox row's message from its tenant's context; True if the broker took it.

    ``premarked``: the row was committed with ``sent_at`` already set (the ingest fast path, which saves a write
    per request). Then a failed send clears the mark so the relay picks the row up within seconds; if the process
    dies between commit and send, the relay's redelivery (``MDR_OUTBOX_REDELIVER_AFTER_SECONDS``) still finds it.
    """
    try:
        actor = dramatiq.get_broker().get_actor(outbox.topic)
        if connection.schema_name == outbox.schema_name:
            actor.send(outbox.pk)  # already there (the ingest request's on_commit): no search_path round trip
        else:
            with schema_context(outbox.schema_name):
                actor.send(outbox.pk)
    except Exception as exc:  # Redis down, unknown actor: the relay tries again later
        log.warning("jobs.outbox.send_failed", extra={"outbox": outbox.pk, "error": str(exc)[:200]})
        if premarked:
            Outbox.objects.filter(pk=outbox.pk).update(sent_at=None)
        return False
    if premarked:
        return True
    with transaction.atomic():
        # Losing this mark in a crash costs one harmless re-send: no need to wait for the WAL flush.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        Outbox.objects.filter(pk=outbox.pk).update(sent_at=timezone.now())
    return True


def outbox_relay(*, limit: int = 500) -> RelayResult:
    """Re-send rows never sent (older than the resend delay) and rows sent long ago but never processed."""
    now = timezone.now()
    resend_before = now - timedelta(seconds=settings.MDR_OUTBOX_RESEND_AFTER_SECONDS)
    redeliver_before = now - timedelta(seconds=settings.MDR_OUTBOX_REDELIVER_AFTER_SECONDS)
    sent = failed = 0
    with transaction.atomic():
        due = list(
            Outbox.objects.select_for_update(skip_locked=True)
            .filter(processed_at__isnull=True, failed_at__isnull=True)
            .filter(Q(sent_at__isnull=True, created_at__lt=resend_before) | Q(sent_at__lt=redeliver_before))
            .order_by("id")[:limit]
        )
        for row in due:
            if outbox_send(outbox=row):
                sent += 1
            else:
                failed += 1
                break  # the broker is down: the rest would fail the same way
    if due:
        log.info("jobs.outbox.relayed", extra={"sent": sent, "failed": failed})
    return RelayResult(sent=sent, failed=failed)


def outbox_prune(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete processed rows past retention (failed ones stay with their FailedJob)."""
    deleted, _ = Outbox.objects.filter(processed_at__lt=timezone.now() - older_than).delete()
    return deleted


def due_work_schedule(
    *, kind: str, ref: str, due_at, schema_name: str | None = None, keep_existing: bool = False
) -> None:
    """Schedule (or move) the single due-work row of ``(tenant, kind, ref)``; ``kind`` is the handling actor.

    ``keep_existing``: leave a pending row as it is (``ON CONFLICT DO NOTHING``: no write and no row lock held to
    the end of the caller's transaction). A coalescing request ("refresh within 30 s") uses it: moving the row
    would let a steady stream of requests push it ahead forever, and locking it would serialise every transaction
    of the customer that asks."""
    schema = schema_name or connection.schema_name
    if schema == "public":
        raise ValueError("due work belongs to a customer schema")
    if not keep_existing:
        DueWork.objects.update_or_create(schema_name=schema, kind=kind, ref=ref, defaults={"due_at": due_at})
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO public.jobs_duework (schema_name, kind, ref, due_at, created_at) "
            "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (schema_name, kind, ref) DO NOTHING",
            [schema, kind, ref, due_at],
        )


def due_work_cancel(*, kind: str, ref: str, schema_name: str | None = None) -> None:
    DueWork.objects.filter(schema_name=schema_name or connection.schema_name, kind=kind, ref=ref).delete()


FANOUT_CHUNK = 1000


def due_work_sweep(*, limit: int = 20_000) -> int:
    """Claim every due row (one indexed ``SELECT ... FOR UPDATE SKIP LOCKED``), hand them to the fan-out actor in
    chunks, and delete them in one statement; returns how many were handed over.

    Runs in the scheduler and stays set-based: one Redis message per 1,000 due rows whatever the number of
    customers; the fan-out actor (a worker) sends each customer its own message, in its own schema. If Redis
    refuses, the transaction rolls back and the rows stay due for the next tick. Idempotent and catching up
    after downtime: whatever became due meanwhile is due now, and a row is handed over once per claim (a second
    scheduler skips locked rows). Redelivery downstream is harmless: the handlers are idempotent.
    """
    from mdr.jobs.tasks import duework_fanout

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, schema_name, kind, ref FROM jobs_duework WHERE due_at <= now() "
            "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
            [limit],
        )
        rows = cursor.fetchall()
        if not rows:
            return 0
        for start in range(0, len(rows), FANOUT_CHUNK):
            duework_fanout.send([[schema, kind, ref] for _, schema, kind, ref in rows[start : start + FANOUT_CHUNK]])
        # Raw SQL on purpose: Django's delete() would fetch the rows again to run delete signals.
        cursor.execute("DELETE FROM jobs_duework WHERE id = ANY(%s)", [[row[0] for row in rows]])
    return len(rows)


def due_work_dispatch(*, items: list[list[str]]) -> int:
    """The fan-out (in a worker): group due items by (customer, kind) and send each handler actor one message
    with its refs, from inside that customer's schema (so the tenant middleware stamps it). Returns messages sent.
    A schema that no longer exists is skipped by the tenant middleware on the receiving side (dead-lettered)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for schema, kind, ref in items:
        groups.setdefault((schema, kind), []).append(ref)
    broker = dramatiq.get_broker()
    for (schema, kind), refs in sorted(groups.items()):
        actor = broker.get_actor(kind)
        with schema_context(schema):
            actor.send(refs)
    return len(groups)
