"""API keys are recognisable by secret scanners: the regular expression and the checksum documented in
docs/security.md match what mdr/accounts/keys.py generates, and the checksum refuses a changed character."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from mdr.accounts import keys

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _documented_regex() -> re.Pattern:
    text = DOC.read_text()
    found = re.search(r"```regex\n(.+?)\n```", text)
    assert found, "docs/security.md documents the key regex in a ```regex block"
    return re.compile(found.group(1))


def _documented_checksum(body: str) -> str:
    """The checksum exactly as docs/security.md describes it: CRC32 of the text before it, in base62, 6 digits."""
    n, out = zlib.crc32(body.encode()), ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(6, "0")


def test_generated_keys_match_the_documented_regex_and_checksum():
    regex = _documented_regex()
    for _ in range(200):
        key = keys.generate().plaintext
        # found inside other text, as a scanner sees it
        match = regex.search(f'export TOKEN="{key}"\n')
        assert match and match.group(0) == key
        assert _documented_checksum(key[:-6]) == key[-6:]
        assert keys.parse_public_id(key) == key[4:16]


def test_a_changed_character_fails_the_checksum():
    key = keys.generate().plaintext
    position = 20
    changed = key[:position] + ("A" if key[position] != "A" else "B") + key[position + 1 :]
    assert _documented_regex().search(changed)  # still the shape of a key...
    assert _documented_checksum(changed[:-6]) != changed[-6:]  # ...but not a valid one
    assert keys.parse_public_id(changed) is None
