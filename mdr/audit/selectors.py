"""Reading and verifying the audit log."""

from __future__ import annotations

import hashlib
import json

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


def audit_chain_verify() -> tuple[bool, int | None]:
    """Walk the current schema's chain in order: (True, None) if intact, else (False, id of the first bad row)."""
    prev = GENESIS_HASH
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        expected = hashlib.sha256((prev + canonical_content(event)).encode()).hexdigest()
        if event.prev_hash != prev or event.hash != expected:
            return False, event.pk
        prev = event.hash
    return True, None
