"""Secrets stored in the database, encrypted at rest with keys from the environment (``MDR_ENCRYPTION_KEYS``).

Fernet (AES-128-CBC + HMAC-SHA256) through ``MultiFernet``: the first key encrypts, every listed key decrypts, so a
key is rotated by putting a new one first and re-encrypting (``manage.py encryption_rotate``). Debug and test runs
without the variable derive one key from SECRET_KEY; production refuses to start without it (mdr/settings.py).

The model fields encrypt on the way to the database and decrypt on the way back: code reads and writes plaintext,
the column holds only tokens (``gAAAAA...``). Empty values stay empty, so ``field=""`` still filters; an exact
match on a non-empty value never matches (each encryption differs) and other lookups are refused. Error messages
never carry the value.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

TOKEN_PREFIX = "gAAAAA"  # noqa: S105 -- every Fernet token starts so (version byte 0x80, then the timestamp's high bytes)


class DecryptionError(Exception):
    """A stored value no key in MDR_ENCRYPTION_KEYS can decrypt (wrong or removed key, or a tampered value)."""


def _dev_key() -> bytes:
    digest = hashlib.sha256(b"mdr-encryption-key:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = [key.strip() for key in settings.MDR_ENCRYPTION_KEYS if key.strip()]
    if not keys:
        if not (settings.DEBUG or settings.TESTING):
            raise ImproperlyConfigured("MDR_ENCRYPTION_KEYS must be set")
        keys = [_dev_key().decode()]
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "MDR_ENCRYPTION_KEYS: each key must be 32 bytes in urlsafe base64 (Fernet.generate_key())"
        ) from None


def keys_changed() -> None:
    """Forget the cached keys (tests that change MDR_ENCRYPTION_KEYS)."""
    _fernet.cache_clear()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError):
        raise DecryptionError("a stored secret cannot be decrypted with MDR_ENCRYPTION_KEYS") from None


def rotate(token: str) -> str:
    """The same plaintext encrypted with the first key (MultiFernet.rotate)."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise DecryptionError("a stored secret cannot be decrypted with MDR_ENCRYPTION_KEYS") from None


class EncryptedMixin:
    """Stores ``encrypt(value)`` in a ``text`` column; ``""``/None are stored as they are."""

    def get_internal_type(self) -> str:
        return "TextField"  # tokens are longer than the plaintext's max_length, which still validates the value

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        if not value:
            return value
        return encrypt(str(value))

    def get_lookup(self, lookup_name):
        if lookup_name not in ("exact", "isnull", "in"):
            return None
        return super().get_lookup(lookup_name)


class EncryptedCharField(EncryptedMixin, models.CharField):
    """A CharField (max_length checks the plaintext) encrypted at rest."""


class EncryptedURLField(EncryptedMixin, models.URLField):
    """A URLField (validated as a URL) encrypted at rest: chat webhook URLs carry their own bearer secret."""
