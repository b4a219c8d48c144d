"""Writing the audit log: the only way rows get into AuditEvent."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from mdr.audit.models import ActorType, AuditEvent
from mdr.audit.selectors import GENESIS_HASH, canonical_content

# The chain's anchor in public (migration 0003), moved in the same transaction as each row: verify_audit compares the
# chain's end with it, so deleted last rows are seen too. Keyed by the schema's oid (a recreated schema starts anew).
HEAD_ADVANCE = """
INSERT INTO public.audit_chain_head (schema_oid, schema_name, last_id, last_hash, row_count)
VALUES ((SELECT oid FROM pg_namespace WHERE nspname = current_schema()), current_schema(), %s, %s, 1)
ON CONFLICT (schema_oid) DO UPDATE SET last_id = EXCLUDED.last_id, last_hash = EXCLUDED.last_hash,
    row_count = audit_chain_head.row_count + 1, updated_at = now()
"""


@dataclass(frozen=True)
class Actor:
    """Who did something, as the audit log records it."""

    type: str
    name: str
    ip_address: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(type=ActorType.SYSTEM, name=name)

    @classmethod
    def from_principal(cls, principal, ip_address: str | None = None) -> Actor:
        from mdr.accounts.permissions import KeyPrincipal

        if isinstance(principal, KeyPrincipal):
            return cls(type=ActorType.API_KEY, name=str(principal), ip_address=ip_address)
        if principal is None or not getattr(principal, "is_authenticated", False):
            return cls(type=ActorType.ANONYMOUS, name="anonymous", ip_address=ip_address)
        kind = ActorType.PROVIDER_STAFF if principal.is_provider_staff else ActorType.CUSTOMER_USER
        return cls(type=kind, name=f"{principal.username}#{principal.pk}", ip_address=ip_address)

    @classmethod
    def from_request(cls, request) -> Actor:
        return cls.from_principal(getattr(request, "user", None), ip_address=request.META.get("REMOTE_ADDR"))


def audit_record(
    *,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: str | int = "",
    data: dict | None = None,
) -> AuditEvent:
    """Append one event to the current schema's audit chain.

    A transaction-scoped advisory lock per schema serialises appends so the chain has no forks; the lock is
    keyed by schema name, so customers never wait on each other.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"audit:{connection.schema_name}"])
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        prev_hash = last or GENESIS_HASH
        event = AuditEvent(
            created_at=timezone.now(),
            actor_type=actor.type,
            actor=actor.name[:200],
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            ip_address=actor.ip_address,
            data=json.loads(json.dumps(data or {}, default=str)),
            prev_hash=prev_hash,
        )
        event.hash = hashlib.sha256((prev_hash + canonical_content(event)).encode()).hexdigest()
        event.save(force_insert=True)
        with connection.cursor() as cursor:
            cursor.execute(HEAD_ADVANCE, [event.pk, event.hash])
    return event
