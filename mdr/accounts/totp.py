"""The TOTP second factor (django-otp): enrolment, verification, removal and the enrolment QR code.

A user's devices live beside the user, in the schema of the domain they log in to, so every function here works
on the current schema. Verification goes through django-otp, which refuses a code whose time step was already used
and throttles wrong codes (a growing delay after each failure); every outcome is audited by the caller's actor.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from enum import Enum

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from mdr.accounts.models import User
from mdr.accounts.services import AccountError
from mdr.audit.services import Actor, audit_record

DEVICE_NAME = "authenticator"


class VerifyOutcome(Enum):
    OK = "ok"
    WRONG = "wrong"
    THROTTLED = "throttled"
    NO_DEVICE = "no_device"


@dataclass(frozen=True)
class VerifyResult:
    outcome: VerifyOutcome
    device: TOTPDevice | None = None
    retry_in_seconds: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome is VerifyOutcome.OK


def totp_required_for(user: User) -> bool:
    """Provider staff (public schema) must have a device while ``MDR_PROVIDER_TOTP_REQUIRED`` is on."""
    return bool(settings.MDR_PROVIDER_TOTP_REQUIRED) and connection.schema_name == "public" and user.is_provider_staff


def totp_device_get(user: User) -> TOTPDevice | None:
    """The user's confirmed device, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def totp_enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed device an enrolment shows (the same one until confirmed, so a reload keeps the secret)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def totp_secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed in (RFC 4648 base32, no padding)."""
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """The ``otpauth://`` URL as an SVG QR code in a ``data:`` URI (the CSP allows ``img-src data:``)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _verify(device: TOTPDevice, token: str) -> VerifyResult:
    allowed, info = device.verify_is_allowed()
    if not allowed:
        until = (info or {}).get("locked_until")
        wait = max(1, int((until - timezone.now()).total_seconds())) if until else 1
        return VerifyResult(VerifyOutcome.THROTTLED, device, retry_in_seconds=wait)
    token = (token or "").strip().replace(" ", "")
    # django_otp.verify_token locks the device row, so parallel guesses cannot slip past the throttle.
    verified = django_otp.verify_token(device.user, device.persistent_id, token)
    if verified is None:
        return VerifyResult(VerifyOutcome.WRONG, device)
    return VerifyResult(VerifyOutcome.OK, verified)


def totp_verify(*, actor: Actor, user: User, token: str) -> VerifyResult:
    """Check a login code against the user's confirmed device; a failure is audited (``auth.otp_failed``)."""
    device = totp_device_get(user)
    if device is None:
        return VerifyResult(VerifyOutcome.NO_DEVICE)
    result = _verify(device, token)
    if not result.ok:
        audit_record(
            actor=actor,
            action="auth.otp_failed",
            target_type="user",
            target_id=user.pk,
            data={"reason": result.outcome.value, "step": "login"},
        )
    return result


def totp_enrol_confirm(*, actor: Actor, user: User, token: str) -> VerifyResult:
    """Confirm the pending enrolment with a code from the app; the device then counts (``auth.otp_enrolled``)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        return VerifyResult(VerifyOutcome.NO_DEVICE)
    token = (token or "").strip().replace(" ", "")
    allowed, _info = device.verify_is_allowed()
    if not allowed:
        result = VerifyResult(VerifyOutcome.THROTTLED, device)
    elif device.verify_token(token):  # unconfirmed devices are not seen by django_otp.verify_token
        result = VerifyResult(VerifyOutcome.OK, device)
    else:
        result = VerifyResult(VerifyOutcome.WRONG, device)
    if not result.ok:
        audit_record(
            actor=actor,
            action="auth.otp_failed",
            target_type="user",
            target_id=user.pk,
            data={"reason": result.outcome.value, "step": "enrol"},
        )
        return result
    with transaction.atomic():
        # One device per user: an older one (if any) goes when the new one is confirmed.
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(actor=actor, action="auth.otp_enrolled", target_type="user", target_id=user.pk)
    return result


def totp_remove(*, actor: Actor, user: User) -> int:
    """The user removes their own second factor (the caller checked a code or the password). Refused for provider
    staff while it is required."""
    if totp_required_for(user):
        raise AccountError("totp", "provider staff cannot remove their second factor while it is required")
    with transaction.atomic():
        deleted, _ = TOTPDevice.objects.filter(user=user).delete()
        audit_record(actor=actor, action="auth.otp_removed", target_type="user", target_id=user.pk)
    return deleted


def totp_reset(*, actor: Actor, user: User) -> int:
    """An admin deletes another user's devices: they enrol again at their next login (``auth.otp_reset``)."""
    with transaction.atomic():
        deleted, _ = TOTPDevice.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            action="auth.otp_reset",
            target_type="user",
            target_id=user.pk,
            data={"username": user.username, "devices": deleted},
        )
    return deleted
