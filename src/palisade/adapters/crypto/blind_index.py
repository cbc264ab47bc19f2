"""Keyed blind index for look-ups by phone number or email (HMAC-SHA-256, RFC 2104).

The database never holds an identifier in plaintext, and never an unkeyed hash of one (an
unkeyed hash of a phone number is reversed by hashing every number). Look-ups compute
HMAC(key, kind || 0x00 || canonical value) and search for that. Whoever holds the key can
still test guesses, so the key lives only in the keyring, never in the database.
"""

from __future__ import annotations

from palisade.adapters.crypto.rfc2104 import HmacSha256
from palisade.domain.identifiers import Identifier


class BlindIndex:
    def __init__(self, key: bytes) -> None:
        self._hmac = HmacSha256(key)

    def of(self, identifier: Identifier) -> bytes:
        msg = identifier.kind.value.encode() + b"\x00" + identifier.value.encode()
        return self._hmac.digest(msg)
