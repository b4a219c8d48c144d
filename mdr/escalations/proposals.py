"""Customer-proposed changes to escalation contacts and the matrix, applied only when the provider approves them.

Two steps, each audited in the customer's schema: a customer admin proposes (``proposal_create``; the payload is
checked up front with the same validation the change itself will get, so the provider never sees a proposal that
could not be applied for a reason known at the time) or withdraws; provider staff approve (``proposal_approve``
applies it through the contact services or ``matrix_publish`` in the same transaction) or reject with a reason.
A proposal is stale when the world moved under it: its contact was archived meanwhile, or a matrix proposal was
based on an older matrix version than the current one (``base_version`` in its payload); approving it is refused
and it stays pending for a rejection with a reason.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from mdr.audit.services import Actor, audit_record
from mdr.escalations import contacts, services
from mdr.escalations.models import ChangeProposal, Contact, EscalationMatrix, ProposalKind, ProposalState
from mdr.escalations.services import EscalationError
from mdr.jobs.models import OpenRequestIndex, OpenRequestKind

MAX_COMMENT = 2000
MATRIX_KEYS = ("rules", "base_version")


def proposal_list(*, state: str | None = None) -> QuerySet[ChangeProposal]:
    proposals = ChangeProposal.objects.order_by("-proposed_at")
    return proposals.filter(state=state) if state else proposals


def _current_version() -> int | None:
    return EscalationMatrix.objects.order_by("-version").values_list("version", flat=True).first()


def _json_payload(clean: dict) -> dict:
    """The validated contact fields as stored in the proposal (JSON; the fingerprint is recomputed on approval)."""
    return {
        field: value.isoformat() if isinstance(value, date) else value
        for field, value in clean.items()
        if field != "pgp_fingerprint"
    }


def proposal_validate(*, kind: str, payload, contact: Contact | None) -> dict:
    """The payload of a proposal, checked with the validation the change will get (``contact_validate``,
    ``contact_archive_check``, ``matrix_validate``) and normalised; raises ``EscalationError`` naming the field. A
    contact update keeps only the fields that differ. Writes nothing; approval validates again when applying."""
    if kind not in ProposalKind.values:
        raise EscalationError("kind", _("one of %(choices)s") % {"choices": ", ".join(ProposalKind.values)})
    if not isinstance(payload, dict):
        raise EscalationError("payload", _("an object"))
    if kind in (ProposalKind.CONTACT_CREATE, ProposalKind.MATRIX):
        if contact is not None:
            raise EscalationError(
                "contact", _("a %(kind)s proposal does not refer to an existing contact") % {"kind": kind}
            )
    else:
        if contact is None:
            raise EscalationError("contact", _("a %(kind)s proposal needs the contact it changes") % {"kind": kind})
        if contact.archived_at is not None:
            raise EscalationError("contact", _("this contact is archived"))
    if kind == ProposalKind.CONTACT_CREATE:
        return _json_payload(contacts.contact_validate(data=payload))
    if kind == ProposalKind.CONTACT_UPDATE:
        clean = contacts.contact_validate(data=payload, contact=contact)
        changed = {field: value for field, value in clean.items() if getattr(contact, field) != value}
        if not changed:
            raise EscalationError("payload", _("the proposal changes nothing"))
        return _json_payload(changed)
    if kind == ProposalKind.CONTACT_ARCHIVE:
        if payload:
            raise EscalationError("payload", _("an archive proposal has no payload"))
        contacts.contact_archive_check(contact=contact)
        return {}
    unknown = sorted(set(payload) - set(MATRIX_KEYS))
    if unknown:
        raise EscalationError(unknown[0], _("unknown field; one of %(choices)s") % {"choices": ", ".join(MATRIX_KEYS)})
    current = _current_version()
    base = payload.get("base_version", current)
    if base is not None and (isinstance(base, bool) or not isinstance(base, int)):
        raise EscalationError("base_version", _("the matrix version the proposal is based on"))
    if base != current:
        raise EscalationError(
            "base_version",
            _("the current matrix is v%(current)s, not v%(base)s: start from it") % {"current": current, "base": base},
        )
    services.matrix_validate(payload.get("rules"))
    return {"rules": payload["rules"], "base_version": base}


def _audit_summary(proposal: ChangeProposal) -> dict:
    """What the audit row says about a proposal: never the payload's values (chat webhook URLs carry secrets)."""
    summary = {"kind": proposal.kind, "contact": proposal.contact_id}
    if proposal.kind == ProposalKind.MATRIX:
        summary["base_version"] = proposal.payload.get("base_version")
    else:
        summary["fields"] = sorted(proposal.payload)
    return summary


def proposal_create(
    *,
    actor: Actor,
    kind: str,
    payload: dict,
    contact: Contact | None = None,
    comment: str = "",
    now: datetime | None = None,
) -> ChangeProposal:
    """A customer admin proposes a change (pending until the provider decides)."""
    now = now or timezone.now()
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise EscalationError("comment", _("text of at most %(max_comment)s characters") % {"max_comment": MAX_COMMENT})
    with transaction.atomic():
        clean = proposal_validate(kind=kind, payload=payload, contact=contact)
        proposal = ChangeProposal.objects.create(
            kind=kind,
            contact=contact,
            payload=clean,
            proposed_by=actor.name[:200],
            proposed_at=now,
            comment=comment.strip(),
        )
        _index_pending(proposal)
        audit_record(
            actor=actor,
            action="escalation.proposal.create",
            target_type="change_proposal",
            target_id=proposal.pk,
            data=_audit_summary(proposal),
        )
    return proposal


def _lock_pending(proposal: ChangeProposal) -> ChangeProposal:
    locked = ChangeProposal.objects.select_for_update(of=("self",)).select_related("contact").get(pk=proposal.pk)
    if locked.state != ProposalState.PENDING:
        raise EscalationError("state", _("the proposal is %(state)s, not pending") % {"state": locked.state})
    return locked


def _index_pending(proposal: ChangeProposal) -> None:
    """Put a new proposal in the public index of open customer requests (same transaction), so the console lists
    every customer's pending proposals without entering their schemas."""
    OpenRequestIndex.objects.create(
        schema_name=connection.schema_name,
        kind=OpenRequestKind.PROPOSAL,
        ref=str(proposal.pk),
        subject=proposal.kind,
        created_at=proposal.proposed_at,
    )


def _decide(proposal: ChangeProposal, *, actor: Actor, state: str, reason: str, now: datetime) -> None:
    proposal.state, proposal.decided_by, proposal.decided_at = state, actor.name[:200], now
    proposal.decision_reason = reason
    proposal.save(update_fields=["state", "decided_by", "decided_at", "decision_reason", "result"])
    OpenRequestIndex.objects.filter(
        schema_name=connection.schema_name, kind=OpenRequestKind.PROPOSAL, ref=str(proposal.pk)
    ).delete()


def proposal_withdraw(*, actor: Actor, proposal: ChangeProposal, now: datetime | None = None) -> ChangeProposal:
    """The customer takes a pending proposal back."""
    now = now or timezone.now()
    with transaction.atomic():
        proposal = _lock_pending(proposal)
        _decide(proposal, actor=actor, state=ProposalState.WITHDRAWN, reason="", now=now)
        audit_record(
            actor=actor,
            action="escalation.proposal.withdraw",
            target_type="change_proposal",
            target_id=proposal.pk,
            data=_audit_summary(proposal),
        )
    return proposal


def _apply(proposal: ChangeProposal, actor: Actor, now: datetime) -> dict:
    payload = proposal.payload
    if proposal.kind == ProposalKind.MATRIX:
        current = _current_version()
        if payload.get("base_version") != current:
            raise EscalationError(
                "base_version",
                _(
                    "stale: proposed against matrix v%(base_version)s, the current version is v%(current)s; "
                    "reject it and propose again from the current version"
                )
                % {"base_version": payload.get("base_version"), "current": current},
            )
        # matrix_publish validates again: contacts may have been archived since the proposal
        return {"matrix_version": services.matrix_publish(actor=actor, rules=payload["rules"]).version}
    if proposal.kind == ProposalKind.CONTACT_CREATE:
        contact, _secret = contacts.contact_create(actor=actor, data=payload)
        return {"contact_id": contact.pk}
    contact = proposal.contact
    if contact.archived_at is not None:
        raise EscalationError("contact", _("stale: the contact was archived after this proposal; reject it"))
    if proposal.kind == ProposalKind.CONTACT_UPDATE:
        contact = contacts.contact_update(actor=actor, contact=contact, data=payload)
    else:
        contact = contacts.contact_archive(actor=actor, contact=contact, now=now)
    return {"contact_id": contact.pk}


def proposal_approve(
    *, actor: Actor, proposal: ChangeProposal, reason: str = "", now: datetime | None = None
) -> ChangeProposal:
    """The provider approves: the change is applied (validated again) in the same transaction, or nothing happens
    and the proposal stays pending (stale or no longer valid: the error says why)."""
    now = now or timezone.now()
    with transaction.atomic():
        proposal = _lock_pending(proposal)
        proposal.result = _apply(proposal, actor, now)
        _decide(proposal, actor=actor, state=ProposalState.APPROVED, reason=(reason or "").strip(), now=now)
        audit_record(
            actor=actor,
            action="escalation.proposal.approve",
            target_type="change_proposal",
            target_id=proposal.pk,
            data=_audit_summary(proposal) | {"proposed_by": proposal.proposed_by, "result": proposal.result},
        )
    return proposal


def proposal_reject(
    *, actor: Actor, proposal: ChangeProposal, reason: str, now: datetime | None = None
) -> ChangeProposal:
    """The provider rejects, saying why (the customer sees the reason)."""
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise EscalationError("reason", _("a reason is required to reject a proposal"))
    now = now or timezone.now()
    with transaction.atomic():
        proposal = _lock_pending(proposal)
        _decide(proposal, actor=actor, state=ProposalState.REJECTED, reason=reason, now=now)
        audit_record(
            actor=actor,
            action="escalation.proposal.reject",
            target_type="change_proposal",
            target_id=proposal.pk,
            data=_audit_summary(proposal) | {"proposed_by": proposal.proposed_by, "reason": reason},
        )
    return proposal
