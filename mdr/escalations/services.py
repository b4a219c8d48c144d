"""The escalation ladder: notify the customer's CSIRT level by level until someone acknowledges.

``escalation_start`` picks the first rule of the matrix version in force that the incident reaches (priority,
categories, sources, coverage window), keeps that version with the escalation, and queues level 0: one
``Delivery`` per contact and channel of the level, each with a fixed Message-ID / ``webhook-id``. Nothing is sent
inside the caller's transaction: the deliveries go out from the ``notifications`` queue (``delivery_attempt``),
every attempt recorded, retried with backoff up to ``MDR_DELIVERY_MAX_ATTEMPTS`` through the public due-work
index (which is also the lease that re-sends a delivery whose message was lost). The first successful delivery of
a ladder notice meets the incident's ``notify`` clock (the proof) and starts its ``update`` cadence clock.

A level with ``"mode": "failover"`` tries its channels one after another per contact; when every delivery of a
level has failed for good, the ladder moves to the next level at once instead of waiting. Otherwise the next
step is due after the level's wait; ``escalation_step`` runs the next level, repeats the ladder up to ``repeat``
times, then flags the customer unreachable and alerts the SOC. An acknowledgement (one-time link, portal or API)
stops the ladder.

Acknowledgement links are signed: the token is HMAC(SECRET_KEY, schema + a random nonce) and only its SHA-256 is
stored, so a worker can re-derive the link for a retry while the database alone cannot forge one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.core.mail.message import make_msgid
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from mdr.audit.services import Actor, audit_record
from mdr.escalations import webhook
from mdr.escalations.models import (
    AckToken,
    Contact,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Escalation,
    EscalationMatrix,
    EscalationState,
)
from mdr.escalations.notices import TLP_LABELS, Notice, notice_send_email
from mdr.incidents.models import OPEN_STATES as INCIDENT_OPEN_STATES
from mdr.incidents.models import Incident, IncidentEvent, IncidentState, Visibility
from mdr.jobs.services import due_work_cancel, due_work_schedule
from mdr.sla.models import OPEN_STATES as TIMER_OPEN_STATES
from mdr.sla.models import SlaTimer
from mdr.sla.services import timer_start, timer_stop

log = logging.getLogger(__name__)

STEP_ACTOR = "escalation_step_task"  # the due-work kind is the actor name
DELIVERY_ACTOR = "delivery_attempt_task"
PRIORITY_ORDER = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
CHANNELS = ("email", "webhook", "slack", "teams")
WINDOWS = ("any", "business_hours", "after_hours")
LEVEL_MODES = ("parallel", "failover")
NOTICE_KINDS = ("follow_up", "final")  # sent by hand; ladder levels send the first report
BRIEF_FIELDS = ("tlp", "summary", "impact", "actions_taken", "recommended_actions", "indicators")
IMPACT_KEYS = ("functional", "information", "recoverability")  # NIST SP 800-61 categories
OPEN_DELIVERY = (DeliveryState.PENDING, DeliveryState.STANDBY)


class EscalationError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class _PermanentFailure(Exception):
    """A delivery that retrying cannot fix (no address, a refused target, an unusable key)."""


# ---- one-time links ------------------------------------------------------------------------------------------


def _new_token() -> tuple[str, str]:
    """A one-time link token and the SHA-256 that is stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()


def _signed_token(nonce: str) -> str:
    """The acknowledgement token of ``nonce`` in this customer's schema (a worker re-derives it for retries)."""
    mac = hmac.new(settings.SECRET_KEY.encode(), f"mdr-ack|{connection.schema_name}|{nonce}".encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def _claim_link(model, token: str, *, used_field: str, ip_field: str, ip: str | None, now: datetime, what: str):
    """Lock the row of a one-time link, refuse it if unknown, used or expired, and mark it used (in the caller's
    transaction). Shared by acknowledgement links and contact verification links."""
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    row = model.objects.select_for_update().select_related("contact").filter(token_sha256=digest).first()
    if row is None:
        raise EscalationError("token", _("unknown %(what)s link") % {"what": what})
    if getattr(row, used_field) is not None:
        raise EscalationError("token", _("this link was already used"))
    if row.expires_at <= now:
        raise EscalationError("token", _("this link has expired"))
    setattr(row, used_field, now)
    setattr(row, ip_field, ip)
    row.save(update_fields=[used_field, ip_field])
    return row


def _customer_url(path: str) -> str:
    from tenants.services import current_customer_link

    link = current_customer_link(path)
    if link is None:
        raise EscalationError("customer", _("the customer has no primary domain for links"))
    return link


def _ack_url(token: str) -> str:
    return _customer_url(f"ack/{token}")


# ---- the matrix ------------------------------------------------------------------------------------------------


def matrix_validate(rules: list[dict]) -> None:
    """Raise EscalationError naming the first field that is wrong (also used for customers' proposals)."""
    from mdr.sla.models import StoredCalendar

    if not isinstance(rules, list) or not rules:
        raise EscalationError("rules", _("at least one rule"))
    contact_ids = set(Contact.objects.filter(archived_at__isnull=True).values_list("pk", flat=True))
    for i, rule in enumerate(rules):
        where = f"rules[{i}]"
        if not isinstance(rule, dict):
            raise EscalationError(where, _("an object"))
        if rule.get("min_priority") not in PRIORITY_ORDER:
            raise EscalationError(f"{where}.min_priority", _("P1-P4"))
        repeat = rule.get("repeat", 0)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 0 <= repeat <= 9:
            raise EscalationError(f"{where}.repeat", _("0-9"))
        for key in ("categories", "sources"):
            value = rule.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise EscalationError(f"{where}.{key}", _("a list of names (empty: any)"))
        if rule.get("window", "any") not in WINDOWS:
            raise EscalationError(f"{where}.window", _("one of %(choices)s") % {"choices": WINDOWS})
        if rule.get("window", "any") != "any":
            calendar = rule.get("calendar")
            if calendar != "coverage" and not (
                isinstance(calendar, int) and StoredCalendar.objects.filter(pk=calendar).exists()
            ):
                raise EscalationError(
                    f"{where}.calendar", _("business/after hours need 'coverage' or the id of a stored calendar")
                )
        if not isinstance(rule.get("auto", False), bool):
            raise EscalationError(f"{where}.auto", _("true or false"))
        levels = rule.get("levels")
        if not isinstance(levels, list) or not levels:
            raise EscalationError(f"{where}.levels", _("at least one level"))
        for j, level in enumerate(levels):
            at = f"{where}.levels[{j}]"
            if not isinstance(level, dict):
                raise EscalationError(at, _("an object"))
            contacts = level.get("contacts")
            if (
                not isinstance(contacts, list)
                or not contacts
                or not all(isinstance(c, int) and not isinstance(c, bool) for c in contacts)
                or not set(contacts) <= contact_ids
            ):
                raise EscalationError(f"{at}.contacts", _("ids of existing, not archived contacts"))
            channels = level.get("channels")
            if (
                not isinstance(channels, list)
                or not channels
                or not all(isinstance(c, str) for c in channels)
                or not set(channels) <= set(CHANNELS)
            ):
                raise EscalationError(f"{at}.channels", _("some of %(channels)s") % {"channels": CHANNELS})
            wait = level.get("wait_minutes")
            if not isinstance(wait, int) or isinstance(wait, bool) or wait <= 0:
                raise EscalationError(f"{at}.wait_minutes", _("a positive number of minutes"))
            if level.get("mode", "parallel") not in LEVEL_MODES:
                raise EscalationError(f"{at}.mode", _("one of %(choices)s") % {"choices": LEVEL_MODES})


def matrix_publish(*, actor: Actor, rules: list[dict]) -> EscalationMatrix:
    """A new matrix version (validated); running escalations keep the version they started with.

    A rule: ``min_priority`` (P1-P4: this priority or higher), optional ``categories`` and ``sources`` (alert
    categories / source formats or products of the incident's alerts; empty = any), ``window`` (any,
    business_hours, after_hours) with ``calendar`` ("coverage" or a stored calendar id), ``auto`` (escalate
    without an analyst), ``repeat`` (0-9) and ``levels``: contacts, channels, ``wait_minutes``, ``mode``
    (parallel or failover). The first rule that matches wins."""
    matrix_validate(rules)
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


def _rule_calendar(rule: dict, now: datetime):
    from mdr.scope.selectors import coverage_calendar, version_in_force
    from mdr.sla.calendar import BusinessCalendar
    from mdr.sla.models import StoredCalendar

    if rule.get("calendar") == "coverage":
        version = version_in_force(at=now)
        return coverage_calendar(version) if version else BusinessCalendar.always(timezone=settings.TIME_ZONE)
    return BusinessCalendar.from_dict(StoredCalendar.objects.get(pk=rule["calendar"]).spec)


def _incident_traits(incident: Incident) -> tuple[set[str], set[str]]:
    """The categories and sources (format, product) of the incident's alerts, lower-cased."""
    from mdr.alerts.models import Alert

    rows = Alert.objects.filter(incident_id=incident.pk).values_list("category", "source_format", "source_product")
    categories, sources = set(), set()
    for category, fmt, product in rows.distinct():
        categories.add((category or "").lower())
        sources.update({(fmt or "").lower(), (product or "").lower()})
    return categories - {""}, sources - {""}


def rule_select(*, matrix: EscalationMatrix, incident: Incident, now: datetime) -> int | None:
    """The index of the first rule of ``matrix`` that ``incident`` matches at ``now``, or None."""
    traits = None
    for i, rule in enumerate(matrix.rules):
        if PRIORITY_ORDER.get(incident.priority, 9) > PRIORITY_ORDER[rule["min_priority"]]:
            continue
        if rule.get("categories") or rule.get("sources"):
            traits = traits or _incident_traits(incident)
            if rule.get("categories") and not {c.lower() for c in rule["categories"]} & traits[0]:
                continue
            if rule.get("sources") and not {s.lower() for s in rule["sources"]} & traits[1]:
                continue
        window = rule.get("window", "any")
        if window != "any" and _rule_calendar(rule, now).is_working(now) != (window == "business_hours"):
            continue
        return i
    return None


# ---- notices ---------------------------------------------------------------------------------------------------


def brief_validate(brief: dict | None) -> dict:
    """The analyst's part of a notice: TLP 2.0 label, summary, NIST impact, actions taken and recommended."""
    brief = dict(brief or {})
    unknown = set(brief) - set(BRIEF_FIELDS)
    if unknown:
        raise EscalationError(
            sorted(unknown)[0],
            _("unknown field; allowed: %(brief_fields)s") % {"brief_fields": ", ".join(BRIEF_FIELDS)},
        )
    if brief.setdefault("tlp", "AMBER") not in TLP_LABELS:
        raise EscalationError("tlp", _("one of %(tlp_labels)s (TLP 2.0)") % {"tlp_labels": ", ".join(TLP_LABELS)})
    if not isinstance(brief.get("summary", ""), str):
        raise EscalationError("summary", _("text"))
    impact = brief.get("impact", {})
    if not isinstance(impact, dict) or set(impact) - set(IMPACT_KEYS):
        raise EscalationError(
            "impact", _("an object with %(impact_keys)s (NIST SP 800-61)") % {"impact_keys": ", ".join(IMPACT_KEYS)}
        )
    for key in ("actions_taken", "recommended_actions", "indicators"):
        value = brief.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EscalationError(key, _("a list of texts"))
    return brief


def _customer_timezone(now: datetime) -> str:
    from mdr.scope.selectors import version_in_force

    version = version_in_force(at=now)
    return version.timezone if version else settings.TIME_ZONE


def _incident_facts(incident: Incident) -> dict:
    """Affected assets and ATT&CK techniques from the incident's alerts (bounded: notices stay readable)."""
    from mdr.alerts.models import Alert

    assets, techniques, indicators = [], set(), set()
    seen = set()
    for hosts, ips, users, criticality, techs in Alert.objects.filter(incident_id=incident.pk).values_list(
        "hosts", "ips", "users", "criticality", "techniques"
    )[:500]:
        key = (tuple(hosts), tuple(ips), tuple(users))
        if key not in seen and len(assets) < 20:
            seen.add(key)
            assets.append(
                {
                    "host": ", ".join(hosts[:3]),
                    "ip": ", ".join(ips[:3]),
                    "user": ", ".join(users[:3]),
                    "criticality": criticality or "unknown",
                }
            )
        techniques.update(techs)
        indicators.update(ips)
    return {"assets": assets, "attack": sorted(techniques)[:20], "indicators": sorted(indicators)[:20]}


def _notice_payload(
    incident: Incident, *, kind: str, sequence: int, brief: dict, tz: str, next_update_at: datetime | None
) -> dict:
    """The notice as stored with each delivery (JSON; datetimes as ISO 8601): what was sent, for disputes."""
    facts = _incident_facts(incident)
    return {
        "incident_id": str(incident.pk),
        "sequence": sequence,
        "kind": kind,
        "tlp": brief.get("tlp", "AMBER"),
        "severity": str(incident.severity_id),
        "priority": incident.priority,
        "title": incident.title,
        "summary": brief.get("summary") or incident.customer_summary or incident.title,
        "detected_at": incident.created_at.isoformat(),
        "occurred_at": incident.first_alert_at.isoformat() if incident.first_alert_at else None,
        "timezone": tz,
        "assets": facts["assets"],
        "indicators": brief.get("indicators") or facts["indicators"],
        "attack": facts["attack"],
        "impact": brief.get("impact", {}),
        "actions_taken": brief.get("actions_taken", []),
        "recommended_actions": brief.get("recommended_actions", []),
        "next_update_at": next_update_at.isoformat() if next_update_at else None,
        "soc_contact": settings.DEFAULT_FROM_EMAIL,
    }


def _notice(payload: dict, ack_url: str) -> Notice:
    values = dict(payload)
    for key in ("detected_at", "occurred_at", "next_update_at"):
        values[key] = datetime.fromisoformat(values[key]) if values.get(key) else None
    return Notice(**values, ack_url=ack_url)


def _next_sequence(incident: Incident) -> int:
    latest = Delivery.objects.filter(escalation__incident_id=incident.pk).aggregate(m=Max("sequence"))["m"]
    return (latest or 0) + 1


def _policy_target(incident: Incident, metric: str, at: datetime):
    """(goal seconds, calendar) of ``metric`` for the incident's priority in the SLA policy in force, or None."""
    from mdr.scope.selectors import coverage_calendar, version_in_force
    from mdr.sla.models import SlaTarget
    from mdr.sla.services import target_calendar

    version = version_in_force(at=at)
    if version is None or version.sla_policy_id is None:
        return None
    target = (
        SlaTarget.objects.select_related("calendar", "policy")
        .filter(policy_id=version.sla_policy_id, priority=incident.priority, metric=metric)
        .first()
    )
    if target is None:
        return None
    return target, target_calendar(target, coverage=coverage_calendar(version), timezone_name=version.timezone)


def _next_update_at(incident: Incident, at: datetime) -> datetime | None:
    running = SlaTimer.objects.filter(
        subject_type="incident", subject_id=str(incident.pk), metric="update", state__in=TIMER_OPEN_STATES
    ).first()
    if running is not None:
        return running.deadline
    found = _policy_target(incident, "update", at)
    if found is None:
        return None
    target, calendar = found
    return calendar.add(at, timedelta(seconds=target.goal_seconds))


# ---- queueing deliveries ---------------------------------------------------------------------------------------


def _message_id(channel: str) -> str:
    if channel == "email":
        return make_msgid(domain=settings.MDR_BASE_DOMAIN)
    return f"msg_{uuid.uuid4().hex}"


def _target(contact: Contact, channel: str) -> str:
    """What the delivery record shows as the target. Slack and Teams URLs are credentials: only their host."""
    from urllib.parse import urlsplit

    if channel == "email":
        return contact.email
    if channel == "webhook":
        return contact.webhook_url
    url = contact.slack_webhook_url if channel == "slack" else contact.teams_webhook_url
    return f"{urlsplit(url).scheme}://{urlsplit(url).hostname}/…" if url else ""


def _unusable(contact: Contact, today: date) -> str:
    if contact.archived_at is not None:
        return "the contact was archived"
    if contact.valid_until is not None and contact.valid_until < today:
        return f"the contact expired on {contact.valid_until.isoformat()}"
    return ""


def _queue(
    escalation: Escalation,
    incident: Incident,
    *,
    contacts: list[Contact],
    channels_of: dict[int, list[str]],
    mode: str,
    kind: str,
    now: datetime,
    with_ack_link: bool,
) -> list[Delivery]:
    """Create one notice round (one sequence number): a delivery per contact and channel, pending (or standby for
    the later channels of a failover level). The sends happen after commit, in the notifications queue."""
    tz = _customer_timezone(now)
    sequence = _next_sequence(incident)
    payload = _notice_payload(
        incident,
        kind=kind,
        sequence=sequence,
        brief=escalation.brief,
        tz=tz,
        next_update_at=_next_update_at(incident, now),
    )
    today = now.astimezone(timezone.get_default_timezone()).date()
    rows = []
    for contact in contacts:
        token = None
        if with_ack_link:
            nonce = secrets.token_hex(16)
            token = AckToken.objects.create(
                escalation=escalation,
                contact=contact,
                nonce=nonce,
                token_sha256=hashlib.sha256(_signed_token(nonce).encode()).hexdigest(),
                expires_at=now + timedelta(hours=settings.MDR_ACK_LINK_HOURS),
            )
        problem = _unusable(contact, today)
        for i, channel in enumerate(channels_of[contact.pk]):
            state = DeliveryState.PENDING if mode == "parallel" or i == 0 else DeliveryState.STANDBY
            rows.append(
                Delivery(
                    escalation=escalation,
                    level=escalation.level,
                    cycle=escalation.cycle,
                    notice_kind=kind,
                    sequence=sequence,
                    contact=contact,
                    channel=channel,
                    target=_target(contact, channel)[:500],
                    created_at=now,
                    state=DeliveryState.FAILED if problem else state,
                    next_attempt_at=now if state == DeliveryState.PENDING and not problem else None,
                    message_id=_message_id(channel),
                    payload=payload,
                    ack_token=token,
                    last_error=problem,
                )
            )
    Delivery.objects.bulk_create(rows)
    pending = [d for d in rows if d.state == DeliveryState.PENDING]
    _dispatch(pending, now)
    return rows


def _dispatch(deliveries: list[Delivery], now: datetime) -> None:
    """Send after commit; the due-work row is the lease: if the message is lost (Redis down, worker killed), the
    sweep hands the delivery over again when the lease runs out."""
    if not deliveries:
        return
    lease = now + timedelta(seconds=settings.MDR_DELIVERY_LEASE_SECONDS)
    for delivery in deliveries:
        due_work_schedule(kind=DELIVERY_ACTOR, ref=str(delivery.pk), due_at=lease)
    ids = [str(d.pk) for d in deliveries]
    schema = connection.schema_name

    def send() -> None:
        from django_tenants.utils import schema_context

        from mdr.escalations.tasks import delivery_attempt_task

        try:
            with schema_context(schema):
                delivery_attempt_task.send(ids)
        except Exception as exc:  # Redis down: the lease in the due-work index sends it later
            log.warning("escalations.delivery.enqueue_failed", extra={"deliveries": len(ids), "error": str(exc)})

    transaction.on_commit(send)


def _run_level(escalation: Escalation, incident: Incident, now: datetime) -> None:
    rule = escalation.matrix.rules[escalation.rule_index]
    level = rule["levels"][escalation.level]
    contacts = list(Contact.objects.filter(pk__in=level["contacts"]).order_by("pk"))
    rows = _queue(
        escalation,
        incident,
        contacts=contacts,
        channels_of={c.pk: list(level["channels"]) for c in contacts},
        mode=level.get("mode", "parallel"),
        kind="first",
        now=now,
        with_ack_link=True,
    )
    due_work_schedule(kind=STEP_ACTOR, ref=str(escalation.pk), due_at=now + timedelta(minutes=level["wait_minutes"]))
    IncidentEvent.objects.create(
        incident=incident,
        kind="escalation_level",
        at=now,
        actor="escalation",
        data={"level": escalation.level, "cycle": escalation.cycle, "deliveries": len(rows)},
    )
    if rows and all(d.state == DeliveryState.FAILED for d in rows):
        _level_failed(escalation, incident, now)


# ---- starting, stepping, acknowledging ----------------------------------------------------------------------------


def escalation_start(
    *, incident: Incident, actor: Actor, brief: dict | None = None, now: datetime | None = None
) -> Escalation | None:
    """Escalate ``incident`` by the current matrix; None if no rule applies to it. The brief's recommended actions
    become rows the customer sets a status on (``recommended_actions_sync``)."""
    from mdr.incidents.services import recommended_actions_sync

    now = now or timezone.now()
    brief = brief_validate(brief)
    matrix = EscalationMatrix.objects.order_by("-version").first()
    if matrix is None:
        raise EscalationError("matrix", _("no escalation matrix is defined for this customer"))
    rule_index = rule_select(matrix=matrix, incident=incident, now=now)
    if rule_index is None:
        return None
    with transaction.atomic():
        if Escalation.objects.filter(incident_id=incident.pk, state=EscalationState.RUNNING).exists():
            raise EscalationError("incident", _("an escalation is already running"))
        escalation = Escalation.objects.create(
            incident_id=incident.pk, matrix=matrix, rule_index=rule_index, started_at=now, brief=brief
        )
        recommended_actions_sync(
            incident=incident,
            texts=brief.get("recommended_actions", []),
            actor=actor,
            escalation_id=escalation.pk,
            at=now,
        )
        audit_record(
            actor=actor,
            action="escalation.start",
            target_type="incident",
            target_id=incident.pk,
            data={"matrix_version": matrix.version, "rule": rule_index, "tlp": brief["tlp"]},
        )
        _run_level(escalation, incident, now)
    return escalation


def incident_escalate(
    *, incident: Incident, actor: Actor, brief: dict | None = None, now: datetime | None = None
) -> Incident:
    """The analyst's (or an ``auto`` rule's) escalation: start the ladder and mark the incident escalated."""
    from mdr.incidents.services import incident_transition

    now = now or timezone.now()
    with transaction.atomic():
        escalation = escalation_start(incident=incident, actor=actor, brief=brief, now=now)
        if escalation is None:
            raise EscalationError(
                "priority",
                _("no escalation rule covers this incident (%(priority)s)") % {"priority": incident.priority},
            )
        if incident.state != IncidentState.ESCALATED:
            incident = incident_transition(incident=incident, to=IncidentState.ESCALATED, actor=actor, at=now)
    return incident


def incidents_auto_escalate(*, incident_ids: set, now: datetime | None = None) -> int:
    """The pipeline's last step: escalate the given new incidents whose first matching rule is ``auto``. One query
    when the matrix has no such rule."""
    if not incident_ids:
        return 0
    now = now or timezone.now()
    matrix = EscalationMatrix.objects.order_by("-version").first()
    if matrix is None or not any(rule.get("auto") for rule in matrix.rules):
        return 0
    already = set(Escalation.objects.filter(incident_id__in=incident_ids).values_list("incident_id", flat=True))
    started = 0
    for incident in Incident.objects.filter(
        pk__in=incident_ids - already, state__in=(IncidentState.NEW, IncidentState.INVESTIGATING)
    ):
        index = rule_select(matrix=matrix, incident=incident, now=now)
        if index is not None and matrix.rules[index].get("auto"):
            incident_escalate(incident=incident, actor=Actor.system("escalation:auto"), now=now)
            started += 1
    return started


def _advance(escalation: Escalation, now: datetime) -> str:
    """Next level, next cycle, or unreachable (the escalation row is locked by the caller)."""
    rule = escalation.matrix.rules[escalation.rule_index]
    escalation.level += 1
    if escalation.level >= len(rule["levels"]):
        escalation.level = 0
        escalation.cycle += 1
    incident = Incident.objects.get(pk=escalation.incident_id)
    if escalation.cycle > rule.get("repeat", 0):
        escalation.state = EscalationState.UNREACHABLE
        escalation.save(update_fields=["level", "cycle", "state"])
        due_work_cancel(kind=STEP_ACTOR, ref=str(escalation.pk))
        _customer_unreachable(incident, now)
        return "unreachable"
    escalation.save(update_fields=["level", "cycle"])
    _run_level(escalation, incident, now)
    return "next_level"


def _customer_unreachable(incident: Incident, now: datetime) -> None:
    """Flag the incident for the SOC and alert the provider (e-mail to ``MDR_SOC_ALERT_EMAIL``)."""
    Incident.objects.filter(pk=incident.pk).update(customer_unreachable_at=now)
    IncidentEvent.objects.create(
        incident=incident,
        kind="customer_unreachable",
        at=now,
        actor="escalation",
        text="No acknowledgement after the whole escalation ladder.",
    )
    audit_record(
        actor=Actor.system("escalation"), action="escalation.unreachable", target_type="incident", target_id=incident.pk
    )
    schema = connection.schema_name
    subject = f"[MDR] Customer unreachable: {schema} incident {incident.pk}"
    body = (
        f"The escalation ladder of incident {incident.pk} ({incident.priority}) in customer schema {schema} ran out "
        "without an acknowledgement. Call the customer's contacts by phone and record the outcome."
    )

    def alert_soc() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [settings.MDR_SOC_ALERT_EMAIL])
        except Exception as exc:  # the flag on the incident and the analyst queue still show it
            log.error("escalations.unreachable.alert_failed", extra={"schema": schema, "error": str(exc)[:200]})

    transaction.on_commit(alert_soc)


def escalation_step(*, escalation_id: str, now: datetime | None = None) -> str:
    """The level's wait is over without acknowledgement: next level, next cycle, or unreachable."""
    now = now or timezone.now()
    with transaction.atomic():
        escalation = Escalation.objects.select_for_update().filter(pk=escalation_id).first()
        if escalation is None or escalation.state != EscalationState.RUNNING:
            return "stopped"
        return _advance(escalation, now)


def escalation_acknowledge_token(*, token: str, ip: str | None, now: datetime | None = None) -> Escalation:
    """Acknowledge by one-time link: valid, unexpired, unused; stops the ladder."""
    now = now or timezone.now()
    with transaction.atomic():
        ack = _claim_link(
            AckToken, token, used_field="used_at", ip_field="used_ip", ip=ip, now=now, what="acknowledgement"
        )
        return _acknowledge(ack.escalation_id, by=ack.contact.name, channel="link", ip=ip, now=now)


def escalation_link_preview(*, token: str, now: datetime | None = None) -> dict:
    """What an acknowledgement link is about, shown before the button (reads only: a GET must never act).
    Raises EscalationError for an unknown, used or expired link."""
    now = now or timezone.now()
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    ack = AckToken.objects.select_related("contact", "escalation").filter(token_sha256=digest).first()
    if ack is None:
        raise EscalationError("token", _("unknown acknowledgement link"))
    if ack.used_at is not None:
        raise EscalationError("token", _("this link was already used"))
    if ack.expires_at <= now:
        raise EscalationError("token", _("this link has expired"))
    incident = Incident.objects.get(pk=ack.escalation.incident_id)
    tz = _customer_timezone(now)
    return {
        "incident_id": str(incident.pk),
        "title": incident.title,
        "priority": incident.priority,
        "severity": incident.severity_id,
        "tlp": ack.escalation.brief.get("tlp", "AMBER"),
        "summary": ack.escalation.brief.get("summary") or incident.customer_summary or incident.title,
        "detected_at": incident.created_at.astimezone(ZoneInfo(tz)),
        "timezone": tz,
        "contact": ack.contact.name,
        "state": ack.escalation.state,
        "expires_at": ack.expires_at.astimezone(ZoneInfo(tz)),
    }


def _acknowledge(escalation_id, *, by: str, channel: str, ip: str | None, now: datetime) -> Escalation:
    escalation = Escalation.objects.select_for_update().get(pk=escalation_id)
    if escalation.state == EscalationState.RUNNING:
        escalation.state = EscalationState.ACKNOWLEDGED
        escalation.acknowledged_at, escalation.acknowledged_by, escalation.ack_channel = now, by[:200], channel
        escalation.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "ack_channel"])
        due_work_cancel(kind=STEP_ACTOR, ref=str(escalation.pk))
        # Ladder notices not sent yet (retrying, standby) are moot now; sent ones stay as the proof.
        Delivery.objects.filter(escalation=escalation, notice_kind="first", state__in=OPEN_DELIVERY).update(
            state=DeliveryState.CANCELLED, next_attempt_at=None, last_error="the customer acknowledged first"
        )
        Incident.objects.filter(pk=escalation.incident_id, customer_acknowledged_at__isnull=True).update(
            customer_acknowledged_at=now
        )
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
            raise EscalationError("incident", _("this incident has not been escalated"))
        if escalation.state != EscalationState.RUNNING:
            raise EscalationError("incident", _("the escalation is %(state)s") % {"state": escalation.state})
        return _acknowledge(escalation.pk, by=by, channel=channel, ip=ip, now=now)


# ---- follow-up and final reports ------------------------------------------------------------------------------


def escalation_update_send(
    *,
    incident: Incident,
    kind: str,
    text: str,
    actor: Actor,
    brief: dict | None = None,
    now: datetime | None = None,
) -> list[Delivery]:
    """A follow-up or final report to everyone the ladder reached (each contact on the channels that delivered).
    ``text`` is also the customer-visible update on the incident's timeline (which meets the update cadence)."""
    from mdr.incidents.services import incident_note, recommended_actions_sync

    if kind not in NOTICE_KINDS:
        raise EscalationError("kind", _("one of %(choices)s") % {"choices": NOTICE_KINDS})
    if not (text or "").strip():
        raise EscalationError("text", _("a report needs text"))
    now = now or timezone.now()
    with transaction.atomic():
        escalation = (
            Escalation.objects.select_for_update().filter(incident_id=incident.pk).order_by("-started_at").first()
        )
        if escalation is None:
            raise EscalationError("incident", _("this incident has not been escalated"))
        reached = (
            Delivery.objects.filter(escalation=escalation, state=DeliveryState.SENT)
            .values_list("contact_id", "channel")
            .distinct()
        )
        channels_of: dict[int, list[str]] = {}
        for contact_id, channel in reached:
            channels_of.setdefault(contact_id, []).append(channel)
        if not channels_of:
            raise EscalationError("incident", _("no contact has been reached yet: nobody to send a report to"))
        update = brief_validate({**escalation.brief, **(brief or {}), "summary": text.strip()})
        escalation.brief = update
        escalation.save(update_fields=["brief"])
        recommended_actions_sync(
            incident=incident,
            texts=update.get("recommended_actions", []),
            actor=actor,
            escalation_id=escalation.pk,
            at=now,
        )
        incident_note(incident=incident, text=text, actor=actor, customer_visible=True, at=now)
        rows = _queue(
            escalation,
            incident,
            contacts=list(Contact.objects.filter(pk__in=channels_of).order_by("pk")),
            channels_of=channels_of,
            mode="parallel",
            kind=kind,
            now=now,
            with_ack_link=escalation.state == EscalationState.RUNNING,
        )
        audit_record(
            actor=actor,
            action=f"escalation.{kind}",
            target_type="incident",
            target_id=incident.pk,
            data={"deliveries": len(rows), "sequence": rows[0].sequence if rows else None},
        )
    return rows


# ---- one delivery attempt (the notifications queue) -----------------------------------------------------------


def _signing_secrets(contact: Contact, now: datetime) -> list[str]:
    keys = [contact.webhook_secret]
    until = contact.webhook_secret_previous_until
    if contact.webhook_secret_previous and until and until > now:
        keys.append(contact.webhook_secret_previous)  # rotation: receivers on either secret verify
    return keys


def _send(delivery: Delivery, now: datetime) -> webhook.DeliveryResult:
    """One try on the delivery's channel. Raises _PermanentFailure for what a retry cannot fix."""
    from mdr.escalations import chat

    contact, channel = delivery.contact, delivery.channel
    ack_url = _ack_url(_signed_token(delivery.ack_token.nonce)) if delivery.ack_token_id else ""
    notice = _notice(delivery.payload, ack_url)
    allow_private = settings.MDR_WEBHOOK_ALLOW_PRIVATE
    try:
        if channel == "email":
            if not contact.email:
                raise _PermanentFailure("the contact has no e-mail address")
            started = timezone.now()
            message_id = notice_send_email(
                notice=notice,
                to=contact.email,
                language=contact.language,
                message_id=delivery.message_id,
                pgp_key=contact.pgp_public_key,
            )
            return webhook.DeliveryResult(
                ok=True,
                status=None,
                response="accepted by the mail server",
                error="",
                duration_ms=(timezone.now() - started).total_seconds() * 1000,
                message_id=message_id,
            )
        if channel == "webhook":
            if not contact.webhook_url:
                raise _PermanentFailure("the contact has no webhook URL")
            body = json.dumps(
                {**delivery.payload, "ack_url": ack_url, "message_id": delivery.message_id}, ensure_ascii=False
            ).encode()
            return webhook.deliver(
                url=contact.webhook_url,
                body=body,
                message_id=delivery.message_id,
                secrets_=_signing_secrets(contact, now),
                allow_private=allow_private,
            )
        url = contact.slack_webhook_url if channel == "slack" else contact.teams_webhook_url
        if not url:
            raise _PermanentFailure(f"the contact has no {channel} webhook URL")
        return chat.deliver(
            kind=channel,
            url=url,
            notice=notice,
            language=contact.language,
            message_id=delivery.message_id,
            allow_private=allow_private,
        )
    except webhook.WebhookTargetRefused as exc:
        raise _PermanentFailure(str(exc)) from None
    except _PermanentFailure:
        raise
    except ValueError as exc:  # an unusable PGP key (PgpError) or address: retrying will not help
        raise _PermanentFailure(f"{type(exc).__name__}: {exc}") from None


def delivery_attempt(*, delivery_id, now: datetime | None = None) -> str:
    """Try a pending, due delivery once. Idempotent: a delivery already sent, failed or cancelled, or not due yet,
    is left alone.

    Two transactions. The first (committed at once) claims the attempt by arming the lease in the due-work index:
    if this process dies during the send, the sweep hands the delivery over again when the lease runs out. The
    second holds the row lock across the send, so a doubled message waits and then finds nothing to do; a crashed
    send leaves no record (its transaction dies with it) and the next attempt goes out with the same id."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id)
            .values_list("state", "attempts", "next_attempt_at")
            .first()
        )
        if claimed is None:
            if Delivery.objects.filter(pk=delivery_id, state=DeliveryState.PENDING).exists():
                return "busy"  # another worker is sending it right now; its lease covers a crash
            return "skipped"
        state, attempts, next_attempt_at = claimed
        if state != DeliveryState.PENDING:
            return "skipped"
        if next_attempt_at is not None and next_attempt_at > now + timedelta(seconds=1):
            return "not_due"  # an early or stale message: the due-work row hands it over on time
        lease = now + timedelta(seconds=settings.MDR_DELIVERY_LEASE_SECONDS)
        due_work_schedule(kind=DELIVERY_ACTOR, ref=str(delivery_id), due_at=lease)
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("contact", "escalation", "escalation__matrix", "ack_token")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.state != DeliveryState.PENDING or delivery.attempts != attempts:
            return "skipped"  # someone else made this attempt meanwhile
        number = delivery.attempts + 1
        permanent = False
        try:
            result = _send(delivery, now)
        except _PermanentFailure as exc:
            permanent = True
            result = webhook.DeliveryResult(
                ok=False, status=None, response="", error=str(exc)[:500], duration_ms=0, message_id=delivery.message_id
            )
        except Exception as exc:  # SMTP refused or unreachable, and the like: retried
            result = webhook.DeliveryResult(
                ok=False,
                status=None,
                response="",
                error=f"{type(exc).__name__}: {exc}"[:500],
                duration_ms=0,
                message_id=delivery.message_id,
            )
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            at=now,
            ok=result.ok,
            status_code=result.status,
            response=(result.response or "")[:500],
            error=(result.error or "")[:500],
            duration_ms=round(result.duration_ms, 1),
        )
        delivery.attempts = number
        delivery.last_error = "" if result.ok else (result.error or "")[:500]
        if result.ok:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = DeliveryState.SENT, now, None
            outcome = "sent"
        elif permanent or number >= settings.MDR_DELIVERY_MAX_ATTEMPTS:
            delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
            outcome = "failed"
        else:
            backoff = min(settings.MDR_DELIVERY_BACKOFF_SECONDS * 2 ** (number - 1), 900)
            delivery.next_attempt_at = now + timedelta(seconds=backoff)
            outcome = "retry"
        delivery.save(update_fields=["attempts", "last_error", "state", "delivered_at", "next_attempt_at"])
        if outcome == "retry":
            due_work_schedule(kind=DELIVERY_ACTOR, ref=str(delivery.pk), due_at=delivery.next_attempt_at)
        else:
            due_work_cancel(kind=DELIVERY_ACTOR, ref=str(delivery.pk))
        if outcome == "sent":
            _delivered(delivery, now)
        elif outcome == "failed":
            _failed(delivery, now)
    log.info(
        "escalations.delivery.attempt",
        extra={"delivery": delivery.pk, "channel": delivery.channel, "number": number, "outcome": outcome},
    )
    return outcome


def _delivered(delivery: Delivery, now: datetime) -> None:
    """The proof of time-to-notify: the first successful ladder notice meets the ``notify`` clock and starts the
    ``update`` cadence."""
    if delivery.notice_kind != "first":
        return
    incident = Incident.objects.get(pk=delivery.escalation.incident_id)
    if incident.notified_at is not None:
        return
    Incident.objects.filter(pk=incident.pk).update(notified_at=now)
    for timer in SlaTimer.objects.filter(
        subject_type="incident", subject_id=str(incident.pk), metric="notify", state__in=TIMER_OPEN_STATES
    ):
        timer_stop(timer=timer, at=now)
    found = _policy_target(incident, "update", now) if incident.state in INCIDENT_OPEN_STATES else None
    if found is not None:
        target, calendar = found
        timer_start(
            subject_type="incident",
            subject_id=str(incident.pk),
            metric="update",
            priority=incident.priority,
            goal_seconds=target.goal_seconds,
            calendar=calendar,
            at=now,
            policy=target.policy,
            warning_thresholds=target.policy.warning_thresholds,
        )
    IncidentEvent.objects.create(
        incident=incident,
        kind="customer_notified",
        at=now,
        actor="escalation",
        data={"delivery": delivery.pk, "channel": delivery.channel, "message_id": delivery.message_id},
    )


def _failed(delivery: Delivery, now: datetime) -> None:
    """Failover: the contact's next channel of a failover level; when a whole level has failed, the next level now."""
    escalation = delivery.escalation
    standby = (
        Delivery.objects.filter(
            escalation=escalation, sequence=delivery.sequence, contact=delivery.contact, state=DeliveryState.STANDBY
        )
        .order_by("pk")
        .first()
    )
    if standby is not None:
        standby.state, standby.next_attempt_at = DeliveryState.PENDING, now
        standby.save(update_fields=["state", "next_attempt_at"])
        _dispatch([standby], now)
        return
    if delivery.notice_kind != "first":
        return
    round_ = Delivery.objects.filter(escalation=escalation, sequence=delivery.sequence)
    if round_.exclude(state=DeliveryState.FAILED).exists():
        return
    locked = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if (locked.state, locked.level, locked.cycle) == (EscalationState.RUNNING, delivery.level, delivery.cycle):
        _level_failed(locked, Incident.objects.get(pk=locked.incident_id), now)


def _level_failed(escalation: Escalation, incident: Incident, now: datetime) -> None:
    IncidentEvent.objects.create(
        incident=incident,
        kind="escalation_level_failed",
        at=now,
        actor="escalation",
        text="Every delivery of this level failed: moving to the next level without waiting.",
        data={"level": escalation.level, "cycle": escalation.cycle},
    )
    _advance(escalation, now)


# ---- contact verification ---------------------------------------------------------------------------------------


def contact_verification_send(*, actor: Actor, contact: Contact, now: datetime | None = None) -> str:
    """E-mail the contact a test message with a confirmation link; returns the Message-ID."""
    from django.core.mail import EmailMessage
    from django.core.mail.message import make_msgid

    from mdr.escalations.models import ContactVerification

    if not contact.email:
        raise EscalationError("email", _("the contact has no e-mail address"))
    now = now or timezone.now()
    token, digest = _new_token()
    link = _customer_url(f"contacts/verify/{token}")
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
