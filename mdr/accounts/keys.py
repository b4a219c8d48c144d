"""API key format: ``mdr_<public_id>_<secret><checksum>``.

``public_id`` is 12 base32 characters (60 bits, the lookup handle), the secret 256 random bits in base62,
the checksum a base62 CRC32 of everything before it (refuses mistyped keys without a database hit, and lets
secret scanners recognise our keys). Only the SHA-256 digest of the whole key is stored.
"""

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

PREFIX = "mdr_"
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
SECRET_LEN = 43  # ceil(256 / log2(62))
CHECKSUM_LEN = 6
KEY_RE = re.compile(rf"^{PREFIX}([a-z2-7]{{12}})_([0-9A-Za-z]{{{SECRET_LEN}}})([0-9A-Za-z]{{{CHECKSUM_LEN}}})$")


def _b62(number: int, width: int) -> str:
    out = []
    while number:
        number, rem = divmod(number, 62)
        out.append(_B62[rem])
    return "".join(reversed(out)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _b62(zlib.crc32(body.encode()), CHECKSUM_LEN)


@dataclass(frozen=True)
class GeneratedKey:
    plaintext: str
    public_id: str
    digest: str


def generate() -> GeneratedKey:
    public_id = "".join(secrets.choice(_B32) for _ in range(12))
    secret = _b62(int.from_bytes(secrets.token_bytes(32), "big"), SECRET_LEN)
    body = f"{PREFIX}{public_id}_{secret}"
    plaintext = body + _checksum(body)
    return GeneratedKey(plaintext=plaintext, public_id=public_id, digest=digest(plaintext))


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_public_id(plaintext: str) -> str | None:
    """The key's public id if the key is well formed and its checksum matches, else None."""
    match = KEY_RE.match(plaintext)
    if not match:
        return None
    body = plaintext[:-CHECKSUM_LEN]
    if not hmac.compare_digest(_checksum(body), match.group(3)):
        return None
    return match.group(1)


def matches(plaintext: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(plaintext), stored_digest)
