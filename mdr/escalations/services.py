"""The escalation ladder: notify the customer's CSIRT level by level until someone acknowledges.

``escalation_start`` picks the first rule of the matrix version in force that the incident's priority reaches,
keeps that version with the escalation, and runs level 0: every contact of the level on every channel of the
level, each attempt recorded as a ``Delivery`` (the proof of time-to-notify; the first success meets the
incident's ``notify`` clock). The next step is due after the level's wait (public due-work index); the sweep
hands it to ``escalation_step``, which runs the next level, repeats the ladder up to ``repeat`` times, and then
flags the customer unreachable. An acknowledgement (one-time link, portal or API) stops the ladder.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mdr.audit.services import Actor, audit_record
from mdr.escalations import webhook
from mdr.escalations.models import AckToken, Contact, Delivery, Escalation, EscalationMatrix, EscalationState
from mdr.escalations.notices import Notice, notice_send_email
from mdr.incidents.models import Incident, IncidentEvent, Visibility
from mdr.jobs.services import due_work_cancel, due_work_schedule
from mdr.sla.models import OPEN_STATES as TIMER_OPEN_STATES
from mdr.sla.models import SlaTimer
from mdr.sla.services import timer_stop

STEP_ACTOR = "escalation_step_task"  # the due-work kind is the actor name
PRIORITY_ORDER = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
CHANNELS = ("email", "webhook")


class EscalationError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _new_token() -> tuple[str, str]:
    """A one-time link token and the SHA-256 that is stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()


def _claim_link(model, token: str, *, used_field: str, ip_field: str, ip: str | None, now: datetime, what: str):
    """Lock the row of a one-time link, refuse it if unknown, used or expired, and mark it used (in the caller's
    transaction). Shared by acknowledgement links and contact verification links."""
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    row = model.objects.select_for_update().select_related("contact").filter(token_sha256=digest).first()
    if row is None:
        raise EscalationError("token", f"unknown {what} link")
    if getattr(row, used_field) is not None:
        raise EscalationError("token", "this link was already used")
    if row.expires_at <= now:
        raise EscalationError("token", "this link has expired")
    setattr(row, used_field, now)
    setattr(row, ip_field, ip)
    row.save(update_fields=[used_field, ip_field])
    return row


def matrix_publish(*, actor: Actor, rules: list[dict]) -> EscalationMatrix:
    """A new matrix version (validated); running escalations keep the version they started with."""
    if not isinstance(rules, list) or not rules:
        raise EscalationError("rules", "at least one rule")
    contact_ids = set(Contact.objects.values_list("pk", flat=True))
    for i, rule in enumerate(rules):
        if rule.get("min_priority") not in PRIORITY_ORDER:
            raise EscalationError(f"rules[{i}].min_priority", "P1-P4")
        if not isinstance(rule.get("repeat", 0), int) or not 0 <= rule.get("repeat", 0) <= 9:
            raise EscalationError(f"rules[{i}].repeat", "0-9")
        levels = rule.get("levels")
        if not isinstance(levels, list) or not levels:
            raise EscalationError(f"rules[{i}].levels", "at least one level")
        for j, level in enumerate(levels):
            where = f"rules[{i}].levels[{j}]"
            if not level.get("contacts") or not set(level["contacts"]) <= contact_ids:
                raise EscalationError(f"{where}.contacts", "existing contact ids")
            if not level.get("channels") or not set(level["channels"]) <= set(CHANNELS):
                raise EscalationError(f"{where}.channels", f"some of {CHANNELS}")
            if not isinstance(level.get("wait_minutes"), int) or level["wait_minutes"] <= 0:
                raise EscalationError(f"{where}.wait_minutes", "a positive number of minutes")
    with transaction.atomic():
        latest = EscalationMatrix.objects.order_by("-version").values_list("version", flat=True).first() or 0
        matrix = EscalationMatrix.objects.create(version=latest + 1, rules=rules, created_by=actor.name)
        audit_record(
            actor=actor,
            action="escalation.matrix.publish",
            target_type="escalation_matrix",
            target_id=matrix.pk,
            data={"version": matrix.version},
        )
    return matrix


def _incident_notice(incident: Incident, *, sequence: int, ack_url: str, tz: str) -> Notice:
    return Notice(
        incident_id=str(incident.pk),
        sequence=sequence,
        kind="first" if sequence == 1 else "follow_up",
        tlp="AMBER",
        severity=str(incident.severity_id),
        priority=incident.priority,
        title=incident.title,
        summary=incident.customer_summary or incident.title,
        detected_at=incident.created_at,
        occurred_at=incident.first_alert_at,
        timezone=tz,
        soc_contact=settings.DEFAULT_FROM_EMAIL,
        ack_url=ack_url,
    )


def _ack_url(token: str) -> str:
    """The absolute link on the customer's own domain (workers run under schema_context, so look it up)."""
    from tenants.models import Domain
    from tenants.services import customer_url

    domain = (
        Domain.objects.filter(tenant__schema_name=connection.schema_name, is_primary=True)
        .values_list("domain", flat=True)
        .first()
    )
    if domain is None:
        raise EscalationError("customer", "the customer has no primary domain for acknowledgement links")
    return f"{customer_url(domain).rstrip('/')}/ack/{token}"


def _run_level(escalation: Escalation, incident: Incident, now: datetime) -> None:
    rule = escalation.matrix.rules[escalation.rule_index]
    level = rule["levels"][escalation.level]
    any_ok = False
    for contact in Contact.objects.filter(pk__in=level["contacts"]).order_by("pk"):
        token, digest = _new_token()
        AckToken.objects.create(
            escalation=escalation,
            contact=contact,
            token_sha256=digest,
            expires_at=now + timedelta(hours=settings.MDR_ACK_LINK_HOURS),
        )
        sequence = Delivery.objects.filter(escalation=escalation).values("level", "cycle").distinct().count() + 1
        notice = _incident_notice(incident, sequence=sequence, ack_url=_ack_url(token), tz=settings.TIME_ZONE)
        for channel in level["channels"]:
            any_ok |= _deliver(escalation, contact, channel, notice, now)
    if any_ok:
        for timer in SlaTimer.objects.filter(
            subject_type="incident", subject_id=str(incident.pk), metric="notify", state__in=TIMER_OPEN_STATES
        ):
            timer_stop(timer=timer, at=now)
    due_work_schedule(kind=STEP_ACTOR, ref=str(escalation.pk), due_at=now + timedelta(minutes=level["wait_minutes"]))
    IncidentEvent.objects.create(
        incident=incident,
        kind="escalation_level",
        at=now,
        actor="escalation",
        data={"level": escalation.level, "cycle": escalation.cycle, "delivered": any_ok},
    )


def _deliver(escalation: Escalation, contact: Contact, channel: str, notice: Notice, now: datetime) -> bool:
    import json

    ok, status, message_id, error, target = False, None, "", "", ""
    if channel == "email" and contact.email:
        target = contact.email
        try:
            message_id = notice_send_email(notice=notice, to=contact.email, language=contact.language)
            ok = True
        except Exception as exc:  # SMTP refused or unreachable: recorded, the ladder goes on
            error = f"{type(exc).__name__}: {exc}"[:500]
    elif channel == "webhook" and contact.webhook_url:
        target = contact.webhook_url
        body = json.dumps(notice.__dict__, default=str, ensure_ascii=False).encode()
        message_id = f"msg_{escalation.pk}_{escalation.cycle}_{escalation.level}_{contact.pk}"
        try:
            result = webhook.deliver(
                url=contact.webhook_url,
                body=body,
                message_id=message_id,
                secrets_=[contact.webhook_secret],
                allow_private=settings.MDR_WEBHOOK_ALLOW_PRIVATE,
            )
            ok, status, error = result.ok, result.status, result.error
        except webhook.WebhookTargetRefused as exc:
            error = str(exc)[:500]
    else:
        error = f"contact has no {channel} address"
    Delivery.objects.create(
        escalation=escalation,
        level=escalation.level,
        cycle=escalation.cycle,
        contact=contact,
        channel=channel,
        target=target[:500],
        at=now,
        ok=ok,
        status_code=status,
        message_id=message_id[:255],
        error=error,
    )
    return ok


def escalation_start(*, incident: Incident, actor: Actor, now: datetime | None = None) -> Escalation | None:
    """Escalate ``incident`` by the current matrix; None if no rule applies to its priority."""
    now = now or timezone.now()
    matrix = EscalationMatrix.objects.order_by("-version").first()
    if matrix is None:
        raise EscalationError("matrix", "no escalation matrix is defined for this customer")
    rule_index = next(
        (
            i
            for i, rule in enumerate(matrix.rules)
            if PRIORITY_ORDER[incident.priority] <= PRIORITY_ORDER[rule["min_priority"]]
        ),
        None,
    )
    if rule_index is None:
        return None
    with transaction.atomic():
        if Escalation.objects.filter(incident_id=incident.pk, state=EscalationState.RUNNING).exists():
            raise EscalationError("incident", "an escalation is already running")
        escalation = Escalation.objects.create(
            incident_id=incident.pk, matrix=matrix, rule_index=rule_index, started_at=now
        )
        audit_record(
            actor=actor,
            action="escalation.start",
            target_type="incident",
            target_id=incident.pk,
            data={"matrix_version": matrix.version, "rule": rule_index},
        )
    _run_level(escalation, incident, now)
    return escalation


def escalation_step(*, escalation_id: str, now: datetime | None = None) -> str:
    """The level's wait is over without acknowledgement: next level, next cycle, or unreachable."""
    now = now or timezone.now()
    with transaction.atomic():
        escalation = Escalation.objects.select_for_update().filter(pk=escalation_id).first()
        if escalation is None or escalation.state != EscalationState.RUNNING:
            return "stopped"
        rule = escalation.matrix.rules[escalation.rule_index]
        escalation.level += 1
        if escalation.level >= len(rule["levels"]):
            escalation.level = 0
            escalation.cycle += 1
        incident = Incident.objects.get(pk=escalation.incident_id)
        if escalation.cycle > rule.get("repeat", 0):
            escalation.state = EscalationState.UNREACHABLE
            escalation.save(update_fields=["level", "cycle", "state"])
            IncidentEvent.objects.create(
                incident=incident,
                kind="customer_unreachable",
                at=now,
                actor="escalation",
                text="No acknowledgement after the whole escalation ladder.",
            )
            audit_record(
                actor=Actor.system("escalation"),
                action="escalation.unreachable",
                target_type="incident",
                target_id=incident.pk,
            )
            return "unreachable"
        escalation.save(update_fields=["level", "cycle"])
        _run_level(escalation, incident, now)
    return "next_level"


def escalation_acknowledge_token(*, token: str, ip: str | None, now: datetime | None = None) -> Escalation:
    """Acknowledge by one-time link: valid, unexpired, unused; stops the ladder."""
    now = now or timezone.now()
    with transaction.atomic():
        ack = _claim_link(
            AckToken, token, used_field="used_at", ip_field="used_ip", ip=ip, now=now, what="acknowledgement"
        )
        return _acknowledge(ack.escalation_id, by=ack.contact.name, channel="link", ip=ip, now=now)


def _acknowledge(escalation_id, *, by: str, channel: str, ip: str | None, now: datetime) -> Escalation:
    escalation = Escalation.objects.select_for_update().get(pk=escalation_id)
    if escalation.state == EscalationState.RUNNING:
        escalation.state = EscalationState.ACKNOWLEDGED
        escalation.acknowledged_at, escalation.acknowledged_by, escalation.ack_channel = now, by[:200], channel
        escalation.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "ack_channel"])
        due_work_cancel(kind=STEP_ACTOR, ref=str(escalation.pk))
        incident = Incident.objects.get(pk=escalation.incident_id)
        IncidentEvent.objects.create(
            incident=incident,
            kind="customer_acknowledged",
            at=now,
            actor=by[:200],
            visibility=Visibility.CUSTOMER,
            text=f"Acknowledged by {by} ({channel})",
            data={"ip": ip},
        )
        audit_record(
            actor=Actor(type="customer_user", name=by[:200], ip_address=ip),
            action="escalation.acknowledge",
            target_type="incident",
            target_id=incident.pk,
            data={"channel": channel},
        )
    return escalation


def escalation_acknowledge_incident(
    *, incident_id, by: str, channel: str, ip: str | None, now: datetime | None = None
) -> Escalation:
    """Acknowledge the running escalation of an incident from the portal or the API (a logged-in customer user or
    a customer key); the same effect as the link."""
    now = now or timezone.now()
    with transaction.atomic():
        escalation = Escalation.objects.filter(incident_id=incident_id).order_by("-started_at").first()
        if escalation is None:
            raise EscalationError("incident", "this incident has not been escalated")
        if escalation.state != EscalationState.RUNNING:
            raise EscalationError("incident", f"the escalation is {escalation.state}")
        return _acknowledge(escalation.pk, by=by, channel=channel, ip=ip, now=now)


def contact_verification_send(*, actor: Actor, contact: Contact, now: datetime | None = None) -> str:
    """E-mail the contact a test message with a confirmation link; returns the Message-ID."""
    from django.core.mail import EmailMessage
    from django.core.mail.message import make_msgid

    from mdr.escalations.models import ContactVerification

    if not contact.email:
        raise EscalationError("email", "the contact has no e-mail address")
    now = now or timezone.now()
    token, digest = _new_token()
    link = _ack_url(token).replace("/ack/", "/contacts/verify/")
    with transaction.atomic():
        ContactVerification.objects.create(
            contact=contact,
            token_sha256=digest,
            sent_at=now,
            expires_at=now + timedelta(hours=settings.MDR_ACK_LINK_HOURS),
        )
        audit_record(actor=actor, action="escalation.contact.verify_sent", target_type="contact", target_id=contact.pk)
    subject, body = (
        (
            "【テスト】エスカレーション連絡先の確認",
            f"{contact.name} 様\n\nこれは MDR サービスの連絡先確認のテストです。\n"
            f"次のリンクで受信を確認してください: {link}\n",
        )
        if contact.language == "ja"
        else (
            "[TEST] Please confirm your escalation contact",
            f"Dear {contact.name},\n\nThis is a test from the MDR "
            f"service to confirm this address reaches you.\nPlease confirm here: {link}\n",
        )
    )
    message_id = make_msgid(domain=settings.MDR_BASE_DOMAIN)
    EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[contact.email],
        headers={"Message-ID": message_id},
    ).send(fail_silently=False)
    return message_id


def contact_verification_confirm(*, token: str, ip: str | None, now: datetime | None = None) -> Contact:
    from mdr.escalations.models import ContactVerification

    now = now or timezone.now()
    with transaction.atomic():
        verification = _claim_link(
            ContactVerification,
            token,
            used_field="confirmed_at",
            ip_field="confirmed_ip",
            ip=ip,
            now=now,
            what="verification",
        )
        contact = verification.contact
        contact.verified_at = now
        contact.save(update_fields=["verified_at"])
        audit_record(
            actor=Actor(type="customer_user", name=contact.name[:200], ip_address=ip),
            action="escalation.contact.verified",
            target_type="contact",
            target_id=contact.pk,
        )
    return contact
