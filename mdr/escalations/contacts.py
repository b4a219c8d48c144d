"""Escalation contacts: create, change, archive, rotate webhook secrets, and remind customer admins before a contact
expires.

``contact_validate`` is the one check of contact fields (errors name the field, ``EscalationError``); the services
and the change proposals (``proposals.py``) both use it, so a proposal is refused up front for the same reasons an
edit would be. Every write is audited without secrets or key material. Expiry reminders follow due work: a contact
with ``valid_until`` has one due-work row (kind ``contact_expiry_task``, the actor's name) at its next reminder
threshold, so the sweep's cost follows the reminders that are due, never the number of customers or contacts.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid
from django.core.validators import URLValidator, validate_email
from django.db import connection, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from mdr.audit.services import Actor, audit_record
from mdr.escalations import webhook
from mdr.escalations.models import Contact, EscalationMatrix
from mdr.escalations.services import EscalationError
from mdr.jobs.services import due_work_cancel, due_work_schedule

log = logging.getLogger(__name__)

EXPIRY_ACTOR = "contact_expiry_task"  # the due-work kind is the actor name
DEFAULT_REMINDER_DAYS = [30, 7, 0]
REMINDER_LOCAL_TIME = time(9, 0)
MAIL_RETRY_AFTER = timedelta(hours=1)
MAX_OVERLAP_HOURS = 7 * 24
LANGUAGES = ("ja", "en")

TEXT_FIELDS = ("name", "role", "email", "phone", "language", "pgp_public_key")
URL_FIELDS = ("webhook_url", "slack_webhook_url", "teams_webhook_url")
EDITABLE_FIELDS = (*TEXT_FIELDS, *URL_FIELDS, "valid_until")
REACH_FIELDS = ("email", *URL_FIELDS)
SECRET_FIELDS = ("webhook_secret", "webhook_secret_previous", "webhook_secret_previous_until")
# Values never copied into audit data: chat webhook URLs carry their own bearer secret, keys are key material.
AUDIT_NAMES_ONLY = ("slack_webhook_url", "teams_webhook_url", "webhook_url", "pgp_public_key")


# --- reads -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerInfo:
    name: str
    timezone: ZoneInfo
    portal_url: str


def customer_timezone() -> ZoneInfo:
    """The current schema's customer's time zone: "today" and reminder times are local to it."""
    from tenants.models import Customer

    name = Customer.objects.filter(schema_name=connection.schema_name).values_list("timezone", flat=True).first()
    return ZoneInfo(name or settings.TIME_ZONE)


def customer_info() -> CustomerInfo:
    """The current schema's customer: name, time zone and portal address (for reminder e-mails)."""
    from tenants.models import Customer
    from tenants.services import current_customer_link

    row = Customer.objects.filter(schema_name=connection.schema_name).values("name", "timezone").first() or {}
    return CustomerInfo(
        name=row.get("name", ""),
        timezone=ZoneInfo(row.get("timezone") or settings.TIME_ZONE),
        portal_url=current_customer_link() or "",
    )


def customer_today(*, now: datetime | None = None, tz: ZoneInfo | None = None) -> date:
    return (now or timezone.now()).astimezone(tz or customer_timezone()).date()


def contact_list(*, include_archived: bool = False) -> QuerySet[Contact]:
    contacts = Contact.objects.order_by("pk")
    return contacts if include_archived else contacts.filter(archived_at__isnull=True)


def contact_days_to_expiry(*, contact: Contact, today: date) -> int | None:
    """Days from the customer's today to ``valid_until``, the last valid day (0: today is the last day, negative:
    expired, the ladder skips it); None if open-ended."""
    return None if contact.valid_until is None else (contact.valid_until - today).days


def contact_channels(contact: Contact) -> list[str]:
    """The ways the contact can be reached (without the addresses)."""
    present = {
        "email": contact.email,
        "webhook": contact.webhook_url,
        "slack": contact.slack_webhook_url,
        "teams": contact.teams_webhook_url,
    }
    return [channel for channel, value in present.items() if value]


# --- validation --------------------------------------------------------------------------------------------------


def _max_length(field: str) -> int | None:
    return Contact._meta.get_field(field).max_length


def _clean_text(field: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EscalationError(field, _("a text value"))
    value = value.strip()
    limit = _max_length(field)
    if limit and len(value) > limit:
        raise EscalationError(field, _("at most %(limit)s characters") % {"limit": limit})
    return value


def _clean_url(field: str, value) -> str:
    value = _clean_text(field, value)
    if not value:
        return value
    # The delivery code refuses plain http outside private test setups (webhook.py); refuse it here already.
    schemes = ["https", "http"] if field == "webhook_url" and settings.MDR_WEBHOOK_ALLOW_PRIVATE else ["https"]
    try:
        URLValidator(schemes=schemes)(value)
    except DjangoValidationError:
        raise EscalationError(field, _("a valid %(schemes)s URL") % {"schemes": " or ".join(schemes)}) from None
    return value


def _clean_date(field: str, value, *, today: date) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime) or not isinstance(value, date | str):
        raise EscalationError(field, _("a date (YYYY-MM-DD)"))
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise EscalationError(field, _("a date (YYYY-MM-DD)")) from None
    if value < today:
        raise EscalationError(
            field,
            _("%(value)s is in the past (today is %(today)s in the customer's time zone)")
            % {"value": value, "today": today},
        )
    return value


def _pgp_fingerprint(armored: str) -> str:
    try:
        from mdr.escalations.pgp import PgpError, key_inspect
    except ImportError:  # the PGP module is not installed yet: refuse rather than store an unchecked key
        raise EscalationError("pgp_public_key", _("PGP keys cannot be checked on this installation yet")) from None
    try:
        return key_inspect(armored).fingerprint
    except PgpError as exc:
        raise EscalationError("pgp_public_key", str(exc) or "not a usable PGP public key") from None


def contact_validate(*, data: dict, contact: Contact | None = None, today: date | None = None) -> dict:
    """Check ``data`` as the changes to ``contact`` (or as a new contact) and return them normalised.

    Only the editable fields are accepted; webhook secrets are always generated here, never set or proposed.
    ``pgp_public_key`` is checked by ``mdr.escalations.pgp`` and adds ``pgp_fingerprint``. The contact must stay
    reachable (e-mail, webhook, Slack or Teams). A new ``valid_until`` must not be in the past (the customer's
    today). Writes nothing.
    """
    if not isinstance(data, dict):
        raise EscalationError("payload", _("an object of contact fields"))
    for key in data:
        if key in SECRET_FIELDS:
            raise EscalationError(key, _("webhook secrets are generated by the service, never set or proposed"))
        if key not in EDITABLE_FIELDS:
            raise EscalationError(key, _("unknown field; one of %(choices)s") % {"choices": ", ".join(EDITABLE_FIELDS)})
    clean: dict = {}
    for field in TEXT_FIELDS:
        if field in data:
            clean[field] = _clean_text(field, data[field])
    for field in URL_FIELDS:
        if field in data:
            clean[field] = _clean_url(field, data[field])
    if (contact is None or "name" in clean) and not clean.get("name"):
        raise EscalationError("name", _("a name is required"))
    if "language" in clean or contact is None:
        clean["language"] = clean.get("language") or "ja"
        if clean["language"] not in LANGUAGES:
            raise EscalationError("language", _("ja or en"))
    if clean.get("email"):
        try:
            validate_email(clean["email"])
        except DjangoValidationError:
            raise EscalationError("email", _("a valid e-mail address")) from None
    if "valid_until" in data:
        current = contact.valid_until if contact is not None else None
        unchanged = current is not None and data["valid_until"] in (current, current.isoformat())
        # An unchanged date may be past already (a client sending the whole contact back): only new dates are checked.
        clean["valid_until"] = (
            current if unchanged else _clean_date("valid_until", data["valid_until"], today=today or customer_today())
        )
    if "pgp_public_key" in clean:
        clean["pgp_fingerprint"] = _pgp_fingerprint(clean["pgp_public_key"]) if clean["pgp_public_key"] else ""
    merged = {field: clean.get(field, getattr(contact, field, "")) for field in REACH_FIELDS}
    if not any(merged.values()):
        raise EscalationError(
            "email",
            _("at least one way to reach the contact: email, webhook_url, slack_webhook_url or teams_webhook_url"),
        )
    return clean


def _audit_changes(clean: dict) -> dict:
    """What the audit row says about changed fields: values for plain fields, only names for secret-bearing ones."""
    return {
        field: ("(set)" if value else "(cleared)") if field in AUDIT_NAMES_ONLY else value
        for field, value in clean.items()
    }


# --- writes ------------------------------------------------------------------------------------------------------


def contact_create(*, actor: Actor, data: dict) -> tuple[Contact, str | None]:
    """A new contact; returns it and, when it has a webhook, the generated signing secret (shown once)."""
    clean = contact_validate(data=data)
    contact = Contact(**clean)
    secret = None
    if contact.webhook_url:
        secret = contact.webhook_secret = webhook.secret_generate()
    with transaction.atomic():
        contact.save()
        _expiry_schedule(contact)
        audit_record(
            actor=actor,
            action="escalation.contact.create",
            target_type="contact",
            target_id=contact.pk,
            data={"fields": _audit_changes(clean), "webhook_secret_generated": secret is not None},
        )
    return contact, secret


def contact_update(*, actor: Actor, contact: Contact, data: dict) -> Contact:
    """Change some fields of an active contact. A new e-mail address must be verified again; a new ``valid_until``
    restarts the expiry reminders; adding a webhook to a contact without a secret generates one."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if contact.archived_at is not None:
            raise EscalationError("contact", _("this contact is archived and cannot be changed"))
        clean = contact_validate(data=data, contact=contact)
        changed = [field for field, value in clean.items() if getattr(contact, field) != value]
        if not changed:
            return contact
        for field in changed:
            setattr(contact, field, clean[field])
        extra = []
        if "email" in changed:
            contact.verified_at = None
            extra.append("verified_at")
        if "valid_until" in changed:
            contact.expiry_reminded_days = None
            extra.append("expiry_reminded_days")
        if contact.webhook_url and not contact.webhook_secret:
            contact.webhook_secret = webhook.secret_generate()
            extra.append("webhook_secret")
        contact.save(update_fields=changed + extra)
        if "valid_until" in changed:
            _expiry_schedule(contact)
        audit_record(
            actor=actor,
            action="escalation.contact.update",
            target_type="contact",
            target_id=contact.pk,
            data={
                "changes": _audit_changes({field: clean[field] for field in changed}),
                "verification_reset": "email" in changed,
                "webhook_secret_generated": "webhook_secret" in extra,
            },
        )
    return contact


def contact_archive_check(*, contact: Contact) -> None:
    """Refuse to archive a contact that is archived already, or the only active contact of a level of the current
    matrix (the ladder would have nobody to call there)."""
    if contact.archived_at is not None:
        raise EscalationError("contact", _("this contact is already archived"))
    matrix = EscalationMatrix.objects.order_by("-version").first()
    if matrix is None:
        return
    for i, rule in enumerate(matrix.rules):
        for j, level in enumerate(rule.get("levels", [])):
            ids = level.get("contacts") or []
            if contact.pk not in ids:
                continue
            if not Contact.objects.filter(pk__in=ids, archived_at__isnull=True).exclude(pk=contact.pk).exists():
                raise EscalationError(
                    "contact",
                    _(
                        "%(name)s is the only contact of rules[%(i)s].levels[%(j)s] (%(min_priority)s and above, "
                        "level %(j2)s) of escalation matrix v%(version)s; "
                        "publish a matrix without this dependency first"
                    )
                    % {
                        "name": contact.name,
                        "i": i,
                        "j": j,
                        "min_priority": rule.get("min_priority"),
                        "j2": j + 1,
                        "version": matrix.version,
                    },
                )


def contact_archive(*, actor: Actor, contact: Contact, now: datetime | None = None) -> Contact:
    """Archive (contacts are never deleted: deliveries point at them); its expiry reminders stop."""
    now = now or timezone.now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        contact_archive_check(contact=contact)
        contact.archived_at = now
        contact.save(update_fields=["archived_at"])
        due_work_cancel(kind=EXPIRY_ACTOR, ref=str(contact.pk))
        audit_record(
            actor=actor,
            action="escalation.contact.archive",
            target_type="contact",
            target_id=contact.pk,
            data={"name": contact.name},
        )
    return contact


def contact_webhook_secret_rotate(
    *, actor: Actor, contact: Contact, overlap_hours: int = 24, now: datetime | None = None
) -> str:
    """A new webhook signing secret (returned once). The old one stays valid for ``overlap_hours`` (deliveries are
    signed with both meanwhile), so the receiver can switch without a gap; 0 drops it at once. A secret that was
    still in its overlap from an earlier rotation is dropped."""
    if (
        isinstance(overlap_hours, bool)
        or not isinstance(overlap_hours, int)
        or not 0 <= overlap_hours <= MAX_OVERLAP_HOURS
    ):
        raise EscalationError(
            "overlap_hours", _("0-%(max_overlap_hours)s hours") % {"max_overlap_hours": MAX_OVERLAP_HOURS}
        )
    now = now or timezone.now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if contact.archived_at is not None:
            raise EscalationError("contact", _("this contact is archived"))
        if not contact.webhook_url:
            raise EscalationError("webhook_url", _("the contact has no webhook"))
        keep_previous = bool(contact.webhook_secret) and overlap_hours > 0
        contact.webhook_secret_previous = contact.webhook_secret if keep_previous else ""
        contact.webhook_secret_previous_until = now + timedelta(hours=overlap_hours) if keep_previous else None
        secret = contact.webhook_secret = webhook.secret_generate()
        contact.save(update_fields=["webhook_secret", "webhook_secret_previous", "webhook_secret_previous_until"])
        audit_record(
            actor=actor,
            action="escalation.contact.webhook_secret_rotate",
            target_type="contact",
            target_id=contact.pk,
            data={"overlap_hours": overlap_hours, "previous_valid_until": contact.webhook_secret_previous_until},
        )
    return secret


# --- expiry reminders --------------------------------------------------------------------------------------------


def _reminder_days() -> list[int]:
    """The reminder thresholds in days before ``valid_until``, earliest reminder first (30, 7, 0)."""
    configured = getattr(settings, "MDR_CONTACT_EXPIRY_REMINDER_DAYS", DEFAULT_REMINDER_DAYS)
    return sorted({int(days) for days in configured if int(days) >= 0}, reverse=True)


def _reminder_at(valid_until: date, days: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(valid_until - timedelta(days=days), REMINDER_LOCAL_TIME, tzinfo=tz)


def _not_reminded(contact: Contact) -> list[int]:
    last = contact.expiry_reminded_days
    return [days for days in _reminder_days() if last is None or days < last]


def _expiry_schedule(contact: Contact, tz: ZoneInfo | None = None) -> None:
    """Move the contact's single due-work row to its next threshold, or remove it when nothing is left to send. A
    threshold already passed (a contact created 10 days before it expires) is due at once and sends one reminder."""
    upcoming = _not_reminded(contact)
    if contact.valid_until is None or contact.archived_at is not None or not upcoming:
        due_work_cancel(kind=EXPIRY_ACTOR, ref=str(contact.pk))
        return
    due_at = _reminder_at(contact.valid_until, upcoming[0], tz or customer_timezone())
    due_work_schedule(kind=EXPIRY_ACTOR, ref=str(contact.pk), due_at=due_at)


SUBJECTS = {
    "ja": {
        "future": "【MDR】エスカレーション連絡先「{name}」の有効期限まであと{days}日 ({date})",
        "today": "【MDR】エスカレーション連絡先「{name}」の有効期限は本日 ({date}) までです",
        "past": "【MDR】エスカレーション連絡先「{name}」の有効期限が切れています ({date})",
    },
    "en": {
        "future": "[MDR] Escalation contact {name} expires in {days} day{plural} ({date})",
        "today": "[MDR] Escalation contact {name} expires today ({date})",
        "past": "[MDR] Escalation contact {name} expired on {date}",
    },
}


def contact_expiry_render(*, contact: Contact, days_left: int, language: str, customer: CustomerInfo) -> tuple:
    """(subject, text) of the reminder in ``language``."""
    language = language if language in LANGUAGES else "en"
    when = "future" if days_left > 0 else "today" if days_left == 0 else "past"
    subject = SUBJECTS[language][when].format(
        name=contact.name, days=days_left, plural="" if days_left == 1 else "s", date=contact.valid_until
    )
    text = render_to_string(
        f"emails/contact_expiry_{language}.txt",
        {"contact": contact, "days_left": days_left, "when": when, "customer": customer},
    )
    return subject[:250], text


def _remind(contact: Contact, days_left: int, recipients: list, customer: CustomerInfo) -> None:
    for user in recipients:
        language = user.language if getattr(user, "language", "") in LANGUAGES else contact.language
        subject, text = contact_expiry_render(
            contact=contact, days_left=days_left, language=language, customer=customer
        )
        EmailMessage(
            subject=subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[user.email],
            headers={"Message-ID": make_msgid(domain=settings.MDR_BASE_DOMAIN), "X-MDR-Contact": str(contact.pk)},
        ).send(fail_silently=False)


def contact_expiry_due(*, contact_ids: list, now: datetime | None = None) -> int:
    """Send the expiry reminders that are due for these contacts (the ``contact_expiry_task`` actor calls this with
    the refs of its due work); returns how many contacts were reminded.

    Per contact: the latest threshold reached and not yet reminded (one e-mail even if several were skipped) goes to
    every active customer admin with an e-mail address, in the admin's language; ``expiry_reminded_days`` records it,
    and the due-work row moves to the next threshold. Idempotent: a redelivered message finds the threshold reminded
    and sends nothing. If the mail server refuses, nothing is recorded and the reminder is due again in an hour (an
    admin who got it before the failure may get it twice).
    """
    from mdr.accounts.models import Role, User

    now = now or timezone.now()
    customer = customer_info()
    today = customer_today(now=now, tz=customer.timezone)
    reminded = 0
    for contact_id in contact_ids:
        try:
            pk = int(contact_id)
        except (TypeError, ValueError):
            log.warning("escalations.contact_expiry.bad_ref", extra={"ref": str(contact_id)[:64]})
            continue
        with transaction.atomic():
            contact = Contact.objects.select_for_update().filter(pk=pk).first()
            if contact is None or contact.archived_at is not None or contact.valid_until is None:
                continue
            reached = [
                days
                for days in _not_reminded(contact)
                if _reminder_at(contact.valid_until, days, customer.timezone) <= now
            ]
            if not reached:  # early, or a redelivery: keep the next threshold scheduled
                _expiry_schedule(contact, customer.timezone)
                continue
            days_before = min(reached)
            days_left = contact_days_to_expiry(contact=contact, today=today)
            recipients = list(
                User.objects.filter(role=Role.CUSTOMER_ADMIN, is_active=True).exclude(email="").order_by("pk")
            )
            try:
                _remind(contact, days_left, recipients, customer)
            except (smtplib.SMTPException, OSError) as exc:
                log.warning(
                    "escalations.contact_expiry.mail_failed",
                    extra={"contact": contact.pk, "error": f"{type(exc).__name__}: {exc}"[:200]},
                )
                due_work_schedule(kind=EXPIRY_ACTOR, ref=str(contact.pk), due_at=now + MAIL_RETRY_AFTER)
                continue
            contact.expiry_reminded_days = days_before
            contact.save(update_fields=["expiry_reminded_days"])
            audit_record(
                actor=Actor.system("contact_expiry"),
                action="escalation.contact.expiry_reminded",
                target_type="contact",
                target_id=contact.pk,
                data={
                    "days_before": days_before,
                    "days_left": days_left,
                    "valid_until": contact.valid_until,
                    "recipients": len(recipients),
                },
            )
            _expiry_schedule(contact, customer.timezone)
            if not recipients:
                log.warning("escalations.contact_expiry.no_recipients", extra={"contact": contact.pk})
            reminded += 1
    return reminded
