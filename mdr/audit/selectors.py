"""Reading and verifying the audit log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import QuerySet

from mdr.audit.models import AuditEvent

GENESIS_HASH = "0" * 64


def canonical_content(event: AuditEvent) -> str:
    return json.dumps(
        {
            "created_at": event.created_at.isoformat(),
            "actor_type": event.actor_type,
            "actor": event.actor,
            "action": event.action,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "ip_address": event.ip_address,
            "data": event.data,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def audit_event_list(*, action_prefix: str | None = None) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    if action_prefix:
        qs = qs.filter(action__startswith=action_prefix)
    return qs


@dataclass(frozen=True)
class ChainProblem:
    row_id: int | None  # the row named by the problem (None: the whole chain, e.g. no anchor)
    message: str


@dataclass
class ChainReport:
    schema: str
    rows: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _head() -> tuple[int, str, int] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_id, last_hash, row_count FROM public.audit_chain_head "
            "WHERE schema_oid = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
        )
        return cursor.fetchone()


def audit_chain_check(*, max_problems: int = 20) -> ChainReport:
    """Check the current schema's whole chain in one snapshot (call inside a REPEATABLE READ transaction for a
    consistent view under concurrent appends; ``verify_audit`` does).

    - a row whose hash does not match its content (and its recorded predecessor hash) was modified;
    - a row whose ``prev_hash`` is not the hash of the row before it follows deleted rows (or a rewritten
      predecessor whose hash was recomputed);
    - the chain's end differs from the anchor in ``public.audit_chain_head``: the last rows were deleted.
    """
    report = ChainReport(schema=connection.schema_name)
    prev, prev_id, last_id, last_hash = GENESIS_HASH, None, None, GENESIS_HASH
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        report.rows += 1
        if event.hash != hashlib.sha256((event.prev_hash + canonical_content(event)).encode()).hexdigest():
            report.problems.append(
                ChainProblem(event.pk, f"row {event.pk} was modified: its content does not match its hash")
            )
        if event.prev_hash != prev:
            where = f"after row {prev_id}" if prev_id is not None else "at the start"
            report.problems.append(
                ChainProblem(
                    event.pk,
                    f"row {event.pk} does not follow row {prev_id if prev_id is not None else '(genesis)'}: rows were "
                    f"deleted {where}, or row {prev_id} was rewritten",
                )
            )
        prev, prev_id, last_id, last_hash = event.hash, event.pk, event.pk, event.hash
        if len(report.problems) >= max_problems:
            return report
    head = _head()
    if head is None:
        if report.rows:
            report.problems.append(ChainProblem(None, "no anchor in public.audit_chain_head for this schema"))
        return report
    head_id, head_hash, head_count = head
    if last_id is None or last_id < head_id:
        report.problems.append(
            ChainProblem(
                head_id,
                f"the last rows were deleted: the chain should end at row {head_id} ({head_count} rows) but ends at "
                f"{f'row {last_id}' if last_id is not None else 'nothing'} ({report.rows} rows)",
            )
        )
    elif last_id != head_id or last_hash != head_hash or report.rows != head_count:
        report.problems.append(
            ChainProblem(
                last_id,
                f"the chain does not end where its anchor says: anchor row {head_id} ({head_count} rows), chain row "
                f"{last_id} ({report.rows} rows)",
            )
        )
    return report


def audit_chain_verify() -> tuple[bool, int | None]:
    """The current schema's chain: (True, None) if intact, else (False, id of the first row named by a problem)."""
    report = audit_chain_check(max_problems=1)
    if report.ok:
        return True, None
    return False, report.problems[0].row_id
