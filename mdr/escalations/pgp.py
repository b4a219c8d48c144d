"""OpenPGP for e-mail to a customer's contacts: checking the public key a contact hands us, encrypting to it, and
the PGP/MIME (RFC 3156) message that carries the ciphertext.

Every operation drives the system ``gpg`` (GnuPG 2.1+) through python-gnupg in a throwaway ``GNUPGHOME`` that
is deleted when the operation ends, so no keyring outlives a call and one customer's keys never meet another's.
Nothing here falls back to plaintext: a missing ``gpg``, a bad key or a failed encryption raises ``PgpError``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email import encoders
from email.message import Message
from email.mime.base import MIMEBase

import gnupg
from django.core.mail import EmailMessage
from django.core.mail.message import SafeMIMEMultipart
from django.utils import timezone

GPG_BINARY = "gpg"
MIN_GPG_VERSION = (2, 1)  # ed25519/cv25519 keys and `--import-options import-show`
PRIVATE_KEY_MARKER = "-----BEGIN PGP PRIVATE KEY BLOCK-----"


class PgpError(ValueError):
    pass


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    uids: tuple[str, ...]
    # When encryption to this key stops working: the earlier of the primary key's expiry and the latest expiry
    # of its usable encryption subkeys; None if neither expires.
    expires_at: datetime | None
    # Always True on a key that key_inspect returns (it refuses the others); kept so callers can store it.
    can_encrypt: bool


@contextmanager
def _gpg() -> Iterator[gnupg.GPG]:
    """A GnuPG instance on a fresh, empty home directory that is removed afterwards."""
    if shutil.which(GPG_BINARY) is None:
        raise PgpError(f"GnuPG ({GPG_BINARY!r}) is not installed: cannot check keys or encrypt e-mail")
    with tempfile.TemporaryDirectory(prefix="mdr-gpg-") as home:
        try:
            # --no-autostart: public-key work needs no gpg-agent, and one started here would outlive the call.
            gpg = gnupg.GPG(gpgbinary=GPG_BINARY, gnupghome=home, options=["--no-autostart"])
        except (OSError, ValueError) as exc:
            raise PgpError(f"GnuPG ({GPG_BINARY!r}) does not run: {exc}") from exc
        if tuple(gpg.version or ())[:2] < MIN_GPG_VERSION:
            raise PgpError(f"GnuPG {MIN_GPG_VERSION[0]}.{MIN_GPG_VERSION[1]} or later is required")
        yield gpg


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _inspect(gpg: gnupg.GPG, armored: str) -> KeyInfo:
    if not isinstance(armored, str) or not armored.strip():
        raise PgpError("no key given")
    # Refused before gpg even reads it: a private key must never reach storage or a keyring of ours.
    if PRIVATE_KEY_MARKER in armored:
        raise PgpError("this is a PGP private (secret) key: send only the public key")
    keys = list(gpg.scan_keys_mem(armored))
    if not keys:
        raise PgpError("not an OpenPGP public key (expected an ASCII-armoured PUBLIC KEY BLOCK)")
    if any(key.get("type") == "sec" for key in keys):
        raise PgpError("this is a PGP private (secret) key: send only the public key")
    if len(keys) > 1:
        fingerprints = ", ".join(key.get("fingerprint", "?") for key in keys)
        raise PgpError(f"more than one key given ({fingerprints}): send exactly one public key")
    (key,) = keys
    fingerprint = key.get("fingerprint") or ""
    now = timezone.now()
    primary_expires = _timestamp(key.get("expires"))
    # gpg's validity field: e = expired, r = revoked, i = invalid.
    if key.get("trust") == "e" or (primary_expires is not None and primary_expires <= now):
        raise PgpError(f"key {fingerprint} expired on {primary_expires:%Y-%m-%d}" if primary_expires else "key expired")
    if key.get("trust") == "r":
        raise PgpError(f"key {fingerprint} is revoked")
    if key.get("trust") == "i":
        raise PgpError(f"key {fingerprint} is invalid")
    # In the key's capabilities, gpg writes E (upper case) when some (sub)key can encrypt now: not expired,
    # not revoked; lower-case e only says a key was made for encryption.
    if "E" not in (key.get("cap") or ""):
        raise PgpError(f"key {fingerprint} has no usable encryption (sub)key: it can only sign or has expired parts")
    encryption_expiries = [
        _timestamp(part.get("expires"))
        for part in [key, *(key.get("subkey_info") or {}).values()]
        # A key's own usages are the lower-case letters (the primary's upper-case ones sum up the whole key).
        if "e" in (part.get("cap") or "") and part.get("trust") not in ("e", "r", "i")
    ]
    expires_at = primary_expires
    if encryption_expiries and None not in encryption_expiries:
        latest = max(e for e in encryption_expiries if e is not None)
        expires_at = latest if expires_at is None else min(expires_at, latest)
    return KeyInfo(fingerprint=fingerprint, uids=tuple(key.get("uids") or ()), expires_at=expires_at, can_encrypt=True)


def key_inspect(armored: str) -> KeyInfo:
    """Check an ASCII-armoured public key before it is stored on a contact; ``PgpError`` says what is wrong."""
    with _gpg() as gpg:
        return _inspect(gpg, armored)


def encrypt(data: bytes, *, armored_key: str) -> str:
    """ASCII-armoured OpenPGP encryption of ``data`` to the one public key in ``armored_key``.

    The key is trusted as given (the contact handed it to us; there is no web of trust to consult), checked
    as ``key_inspect`` does, and forgotten with the throwaway keyring afterwards.
    """
    with _gpg() as gpg:
        info = _inspect(gpg, armored_key)
        imported = gpg.import_keys(armored_key)
        if info.fingerprint not in (imported.fingerprints or []):
            raise PgpError(f"key {info.fingerprint} could not be imported: {imported.stderr.strip()[-300:]}")
        result = gpg.encrypt(data, [info.fingerprint], armor=True, always_trust=True)
        if not result.ok or not result.data:
            raise PgpError(f"encryption to {info.fingerprint} failed: {result.status or result.stderr[-300:]}")
        return result.data.decode("ascii")


class PgpMimeEmail(EmailMessage):
    """An RFC 3156 ``multipart/encrypted`` e-mail. ``body`` is the ASCII-armoured ciphertext (from ``encrypt``)
    of the whole inner MIME entity; this object never holds the plaintext, so even a backend that reads
    ``body`` instead of calling ``message()`` can only send ciphertext.

    From, To, Subject (keep it generic), Date, Message-ID and extra headers are set by Django as usual and end
    up on the outer message.
    """

    def message(self):
        plain = super().message()  # text/plain with the armoured body; we keep its headers only
        outer = SafeMIMEMultipart(
            "encrypted", encoding=plain.get_content_charset(), protocol="application/pgp-encrypted"
        )
        outer.preamble = "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)"
        control = MIMEBase("application", "pgp-encrypted")
        control["Content-Description"] = "PGP/MIME version identification"
        control.set_payload("Version: 1\n")
        encoders.encode_7or8bit(control)
        payload = MIMEBase("application", "octet-stream", name="encrypted.asc")
        payload["Content-Description"] = "OpenPGP encrypted message"
        payload["Content-Disposition"] = 'inline; filename="encrypted.asc"'
        payload.set_payload(self.body)
        encoders.encode_7or8bit(payload)
        for part in (control, payload):
            del part["MIME-Version"]  # belongs on the outer message only
            outer.attach(part)
        for name, value in plain.items():
            if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
                # Django checked and encoded these values when it set them on `plain`; its check would now
                # refuse the folding of a long encoded Subject, so the values are copied as they are.
                Message.__setitem__(outer, name, value)
        return outer
