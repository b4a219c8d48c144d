"""TOTP codes for tests, computed from a device's key like an authenticator app does.

django-otp refuses a code whose time step was already used (``last_t``) and accepts one step ahead (tolerance 1),
so a second login of the same user within 30 seconds uses the next step's code; a third gets the device's replay
marker moved back (test-only) instead of waiting for the clock.
"""

from __future__ import annotations

import time

from django_otp.oath import hotp


def totp_at(key: bytes, t: int, digits: int = 6) -> str:
    return f"{hotp(key, t, digits):0{digits}d}"


def current_step(step: int = 30, t0: int = 0) -> int:
    return (int(time.time()) - t0) // step


def next_code(device) -> str:
    """A code the server accepts now for ``device`` (a TOTPDevice, read fresh from the database)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device.refresh_from_db()
    now = current_step(device.step, device.t0) + device.drift
    t = max(now, device.last_t + 1)
    if t > now + device.tolerance:
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=now - 1)
        t = now
    return totp_at(device.bin_key, t, device.digits)


def ensure_device(user):
    """A confirmed TOTP device for ``user`` (in the current schema), created if missing."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="tests", confirmed=True)
